-- One backup of the location, as its manifest and verification say.
INSERT INTO core.backups AS b
    (backup_id, location, taken_at, duration_seconds, size_bytes, databases, snapshots, last_snapshot_date,
     verified_at, verified, verification_problems, deleted_at)
VALUES (%(backup_id)s, %(location)s, %(taken_at)s, %(duration_seconds)s, %(size_bytes)s, %(databases)s,
        %(snapshots)s, %(last_snapshot_date)s, %(verified_at)s, %(verified)s, %(verification_problems)s, NULL)
ON CONFLICT (backup_id) DO UPDATE SET
    location = EXCLUDED.location, taken_at = EXCLUDED.taken_at, duration_seconds = EXCLUDED.duration_seconds,
    size_bytes = EXCLUDED.size_bytes, databases = EXCLUDED.databases, snapshots = EXCLUDED.snapshots,
    last_snapshot_date = EXCLUDED.last_snapshot_date, verified_at = EXCLUDED.verified_at,
    verified = EXCLUDED.verified, verification_problems = EXCLUDED.verification_problems, deleted_at = NULL;
