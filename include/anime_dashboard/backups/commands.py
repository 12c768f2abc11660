"""The backup commands of ``anime-dashboard``:

    anime-dashboard backup               take a backup now (every configured database); prints where it went
    anime-dashboard backups              the backups in ANIME_DASHBOARD_BACKUP_URL, newest last, with their checks
    anime-dashboard verify [BACKUP]      restore one (default: the newest) into scratch databases and compare
                                         it with its manifest
    anime-dashboard restore [BACKUP]     put one back (default: the newest verified) into the warehouse, then
        [--superset] [--airflow]         run the warehouse's setup again; also Superset's / Airflow's metadata;
        [--force]                        --force: even when the warehouse holds snapshots the backup lacks
"""
from __future__ import annotations

import argparse
import sys

from anime_dashboard.backups.databases import BackupError
from anime_dashboard.backups.location import VERIFICATION, BackupLocation, BackupLocationError
from anime_dashboard.settings import backup_settings

COMMANDS = ("backup", "backups", "verify", "restore")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def backup(location: BackupLocation) -> int:
    from anime_dashboard.backups.catalog import record_backups
    from anime_dashboard.backups.take import size_of, take_backup
    from anime_dashboard.warehouse.db import connect

    manifest = take_backup(location, trigger="anime-dashboard backup")
    with connect() as conn:
        record_backups(conn, location)
    files = ", ".join(f"{name} {_mb(f['bytes'])}" for name, f in sorted(manifest["files"].items()))
    print(f"backup {manifest['backup_id']} taken in {manifest['duration_seconds']:.1f} s ({files}; "
          f"{_mb(size_of(manifest))} in all)")
    print(f"it went to {location}/{manifest['backup_id']}/ (manifest.json beside the dumps)")
    return 0


def backups(location: BackupLocation) -> int:
    from anime_dashboard.backups.take import size_of

    ids = location.backup_ids()
    print(f"{len(ids)} backups in {location}")
    for backup_id in ids:
        manifest, checked = location.manifest(backup_id), location.read_json(backup_id, VERIFICATION)
        if checked is None:
            state = "not verified"
        else:
            state = f"verified {checked['verified_at'][:19]}" if checked["ok"] else \
                f"FAILED verification: {checked['problems'][0]}"
        print(f"  {backup_id}  {_mb(size_of(manifest)):>12}  {', '.join(sorted(manifest['databases']))}  {state}")
    return 0


def verify(location: BackupLocation, backup_id: str | None) -> int:
    from anime_dashboard.backups.catalog import record_backups
    from anime_dashboard.backups.verify import verify_backup
    from anime_dashboard.warehouse.db import connect

    ids = location.backup_ids()
    if not backup_id and not ids:
        raise BackupError(f"no backup in {location} to verify")
    backup_id = backup_id or ids[-1]
    try:
        outcome = verify_backup(location, backup_id)
    finally:
        with connect() as conn:
            record_backups(conn, location)
    print(f"backup {backup_id} verified in {outcome['duration_seconds']:.1f} s: restored into scratch databases, "
          "every table's rows and the snapshot tables' checksums equal its manifest")
    return 0


def restore(location: BackupLocation, args: argparse.Namespace) -> int:
    from anime_dashboard.backups.restore import restore_backup, set_up_again

    from anime_dashboard.warehouse.setup import SetupError

    done = restore_backup(location, args.backup, superset=args.superset, airflow=args.airflow, force=args.force)
    try:
        set_up_again(location)
    except SetupError as exc:
        print(f"ERROR: {exc}\nthe restore of {done['backup_id']} is done; fix that, then run `anime-dashboard setup`",
              file=sys.stderr)
        return 2
    if done["dropped_snapshots"]:
        print(f"--force: {len(done['dropped_snapshots'])} snapshots the backup did not hold were dropped")
    print(f"restore of {done['backup_id']} done: {', '.join(done['restored'])}")
    return 0


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The arguments of one of the :data:`COMMANDS`."""
    if command in ("verify", "restore"):
        parser.add_argument("backup", nargs="?", help="the backup's name (anime-dashboard backups lists them)")
    if command == "restore":
        parser.add_argument("--superset", action="store_true", help="also Superset's metadata (saved charts, "
                            "dashboards, queries, users)")
        parser.add_argument("--airflow", action="store_true", help="also Airflow's metadata (stop Airflow first)")
        parser.add_argument("--force", action="store_true",
                            help="restore even when the warehouse holds snapshots the backup does not")


def run(args: argparse.Namespace) -> int:
    """Run ``args.command`` (one of :data:`COMMANDS`) against ANIME_DASHBOARD_BACKUP_URL; 2 on a backup error."""
    location = BackupLocation(backup_settings().url)
    try:
        if args.command == "backup":
            return backup(location)
        if args.command == "backups":
            return backups(location)
        if args.command == "verify":
            return verify(location, args.backup)
        return restore(location, args)
    except (BackupError, BackupLocationError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
