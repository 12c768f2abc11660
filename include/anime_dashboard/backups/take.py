"""Take a backup: every configured database dumped with its engine's own tool, and a manifest beside them.

The manifest (``manifest.json``) records, for each file, its sha256 and size, and for each database its
server and dump tool versions, its migrations, its rows per table, and for the warehouse the checksums of the
snapshot tables and the snapshot dates it holds; and when the backup was taken and how long it took.
Verification and restore compare against it.
"""
from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from anime_dashboard.backups import databases as dbs
from anime_dashboard.backups.databases import BackupError, Database
from anime_dashboard.backups.location import MANIFEST, BackupLocation, BackupLocationError

MANIFEST_FORMAT = 1


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_id_at(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def taken_at(backup_id: str) -> datetime:
    return datetime.strptime(backup_id, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def dump_database(db: Database, path: Path) -> dict:
    from anime_dashboard.backups import postgres, sqlite

    return (postgres.dump if db.engine == "postgresql" else sqlite.dump)(db, path)


def take_backup(location: BackupLocation, databases: list[Database] | None = None, *, trigger: str = "manual",
                now: datetime | None = None) -> dict:
    """One backup of ``databases`` (default: every configured one) into ``location``; its manifest.

    Nothing reaches a final name before every dump is complete and flushed; a failure (an unwritable or full
    location, a database that does not answer) raises BackupError naming the location, and earlier backups
    are never touched."""
    databases = dbs.configured() if databases is None else databases
    moment = now or datetime.now(timezone.utc)
    backup_id = backup_id_at(moment)
    started = time.monotonic()
    try:
        location.ensure_writable()
        with location.staging(backup_id) as staged:
            files, facts = {}, {}
            for db in databases:
                path = staged / db.file
                facts[db.role] = {"file": db.file, "where": db.where(), **dump_database(db, path)}
                files[db.file] = {"database": db.role, "bytes": path.stat().st_size, "sha256": sha256_of(path)}
            manifest = {"format": MANIFEST_FORMAT, "backup_id": backup_id, "taken_at": moment.isoformat(),
                        "duration_seconds": round(time.monotonic() - started, 3), "trigger": trigger,
                        "files": files, "databases": facts}
            (staged / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            location.publish(backup_id, staged)
    except (BackupError, BackupLocationError, OSError) as exc:
        raise BackupError(f"backup {backup_id} into {location} failed: {exc}") from exc
    return manifest


def size_of(manifest: dict) -> int:
    return sum(f["bytes"] for f in manifest["files"].values())
