"""Verification: a backup is only trusted once it has been restored and found equal to its manifest.

Each file's sha256 and size are checked, each PostgreSQL dump is restored into a scratch database on the
warehouse's server (exactly as ``anime-dashboard restore`` restores) and each SQLite copy passes SQLite's
integrity check; then the rows per table, the migrations and, for the warehouse, the checksums of the snapshot
tables are compared with the manifest. The outcome is written beside the manifest (``verification.json``);
a mismatch raises :class:`BackupVerificationError`, which fails the Airflow task.
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

from anime_dashboard.backups import databases as dbs
from anime_dashboard.backups.databases import BackupError, Database
from anime_dashboard.backups.location import VERIFICATION, BackupLocation
from anime_dashboard.backups.take import sha256_of


class BackupVerificationError(BackupError):
    pass


def compare(role: str, expected: dict, restored: dict) -> list[str]:
    """What differs between a database's facts in the manifest and the same facts read after a restore."""
    problems = []
    want, got = expected.get("row_counts", {}), restored.get("row_counts", {})
    for table in sorted(set(want) | set(got)):
        if want.get(table) != got.get(table):
            problems.append(f"{role}: {table} has {got.get(table, 'no')} rows restored, the manifest says "
                            f"{want.get(table, 'none')}")
    for table, check in sorted(expected.get("checksums", {}).items()):
        if restored.get("checksums", {}).get(table) != check:
            problems.append(f"{role}: the checksum of {table} differs from the manifest's")
    if expected.get("migrations") != restored.get("migrations"):
        problems.append(f"{role}: migrations {restored.get('migrations')} restored, the manifest says "
                        f"{expected.get('migrations')}")
    return problems


def _scratch_name(role: str) -> str:
    return f"{dbs.warehouse().params['dbname'][:30]}_verify_{role}_{uuid.uuid4().hex[:6]}"


def restored_facts(role: str, facts: dict, path) -> dict:
    from anime_dashboard.backups import postgres, sqlite

    if facts["engine"] == "sqlite":
        return sqlite.facts_of(path)
    server = Database(role, "postgresql", dbs.warehouse().params)  # scratch databases go beside the warehouse
    dump_major = int(facts["server_version"].split(".")[0])
    return postgres.facts_after_restore(server, path, _scratch_name(role), dump_major)


def verify_backup(location: BackupLocation, backup_id: str) -> dict:
    """Restore ``backup_id`` into scratch databases and compare it with its manifest; the outcome, also written
    beside the manifest. Raises BackupVerificationError when anything differs."""
    manifest = location.manifest(backup_id)
    started = time.monotonic()
    problems: list[str] = []
    for name, meta in sorted(manifest["files"].items()):
        with location.local_file(backup_id, name) as path:
            size, digest = (path.stat().st_size, sha256_of(path)) if path.is_file() else (None, None)
            if (size, digest) != (meta["bytes"], meta["sha256"]):
                problems.append(f"{name}: {size} bytes with sha256 {str(digest)[:16]}..., the manifest says "
                                f"{meta['bytes']} bytes with {meta['sha256'][:16]}...")
                continue
            role = meta["database"]
            try:
                restored = restored_facts(role, manifest["databases"][role], path)
            except BackupError as exc:
                problems.append(f"{role}: the restore failed: {exc}")
                continue
            problems += compare(role, manifest["databases"][role], restored)
    outcome = {"backup_id": backup_id, "verified_at": datetime.now(timezone.utc).isoformat(),
               "ok": not problems, "problems": problems,
               "duration_seconds": round(time.monotonic() - started, 3)}
    location.write_json(backup_id, VERIFICATION, outcome)
    if problems:
        raise BackupVerificationError(f"backup {backup_id} in {location} does not match its manifest:\n  - "
                                      + "\n  - ".join(problems))
    return outcome


def verifications(location: BackupLocation) -> dict[str, dict]:
    """{backup id: its verification outcome} for the backups that have been verified."""
    found = {}
    for backup_id in location.backup_ids():
        outcome = location.read_json(backup_id, VERIFICATION)
        if outcome is not None:
            found[backup_id] = outcome
    return found


def newest_verified(location: BackupLocation) -> str | None:
    """The newest backup that passed verification."""
    passed = [b for b, o in verifications(location).items() if o.get("ok")]
    return max(passed) if passed else None


def verification_due(location: BackupLocation, every_days: int, *, backup_failed: bool,
                     now: datetime | None = None) -> str | None:
    """Why the newest backup should be verified now, or None: after a failed backup, when no backup was
    verified in the last ``every_days`` days, or when the last verification failed."""
    now = now or datetime.now(timezone.utc)
    if backup_failed:
        return "the backup failed: the newest one that exists is checked instead"
    checked = verifications(location)
    if not checked:
        return "no backup has been verified yet"
    last = checked[max(checked)]
    if not last.get("ok"):
        return f"the last verification ({max(checked)}) failed"
    last_ok = datetime.fromisoformat(last["verified_at"])
    if now - last_ok >= timedelta(days=every_days):
        return f"the last verification was {(now - last_ok).days} days ago (every {every_days} days)"
    return None
