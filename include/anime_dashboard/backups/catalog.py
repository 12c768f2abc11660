"""The warehouse's mirror of the backup location (``core.backups``, read as ``analytics.backups``): what the
pipeline-health dashboard shows. The location is the truth; this is rewritten from it each time."""
from __future__ import annotations

from anime_dashboard.backups.location import VERIFICATION, BackupLocation
from anime_dashboard.backups.take import size_of
from anime_dashboard.warehouse.db import query, transaction


def row(location: BackupLocation, manifest: dict, verification: dict | None) -> dict:
    warehouse = manifest["databases"].get("warehouse", {})
    ranges = warehouse.get("snapshots", {})
    last_days = [runs[-1][1] for runs in ranges.values() if runs]
    return {"backup_id": manifest["backup_id"], "location": str(location), "taken_at": manifest["taken_at"],
            "duration_seconds": manifest["duration_seconds"], "size_bytes": size_of(manifest),
            "databases": sorted(manifest["databases"]),
            "snapshots": warehouse.get("row_counts", {}).get("core.snapshots", 0),
            "last_snapshot_date": max(last_days) if last_days else None,
            "verified_at": (verification or {}).get("verified_at"),
            "verified": (verification or {}).get("ok"),
            "verification_problems": (verification or {}).get("problems") or None}


def record_backups(conn, location: BackupLocation) -> int:
    """Rewrite ``core.backups`` from the location; the number of backups it holds."""
    ids = location.backup_ids()
    rows = [row(location, location.manifest(b), location.read_json(b, VERIFICATION)) for b in ids]
    with transaction(conn), conn.cursor() as cur:
        for r in rows:
            cur.execute(query("upsert_backup"), r)
        cur.execute(query("mark_backups_deleted"), {"location": str(location), "present": ids})
    return len(ids)
