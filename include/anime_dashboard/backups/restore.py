"""Restore: a backup put back into the configured warehouse (and, when asked, Superset's and Airflow's
metadata), then the warehouse's setup run again so dashboards and the analyst's connections work at once.

Before anything is written: every file's sha256 is checked against the manifest, and a warehouse holding
snapshots the backup does not have is refused (unless ``force``), naming the dates that would be lost. Each
database is restored in one transaction: a restore that fails leaves it as it was.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from anime_dashboard.backups import databases as dbs
from anime_dashboard.backups.databases import BackupError, Database
from anime_dashboard.backups.location import BackupLocation
from anime_dashboard.backups.take import sha256_of
from anime_dashboard.backups.verify import newest_verified


def _dates(ranges: dict[str, list[list[str]]]) -> set[tuple[str, str]]:
    found = set()
    for kind, runs in ranges.items():
        for first, last in runs:
            day, end = date.fromisoformat(first), date.fromisoformat(last)
            while day <= end:
                found.add((kind, day.isoformat()))
                day += timedelta(days=1)
    return found


def snapshots_in(db: Database) -> set[tuple[str, str]]:
    """The (type, date) snapshots a warehouse holds now; none when it or its tables do not exist yet."""
    import psycopg2

    from anime_dashboard.backups.databases import sql

    try:
        conn = psycopg2.connect(connect_timeout=10, **db.params)
    except psycopg2.OperationalError as exc:
        if "does not exist" in str(exc):
            return set()
        raise BackupError(f"cannot connect to {db.where()}: {str(exc).strip()}") from exc
    try:
        with conn.cursor() as cur:
            cur.execute(sql("relation_exists"), {"name": "core.snapshots"})
            if not cur.fetchone()[0]:
                return set()
            cur.execute(sql("snapshot_dates"))
            return set(cur.fetchall())
    finally:
        conn.close()


def describe_dates(pairs: set[tuple[str, str]]) -> str:
    """``airing 2026-12-06..2026-12-07, top 2026-12-07``: the snapshots, in runs of days per type."""
    from anime_dashboard.backups.postgres import snapshot_ranges

    runs = snapshot_ranges(sorted(pairs))
    return "; ".join(f"{kind} " + ", ".join(a if a == b else f"{a}..{b}" for a, b in r) for kind, r in runs.items())


def choose_backup(location: BackupLocation, backup_id: str | None) -> str:
    if backup_id:
        location.manifest(backup_id)  # says so when there is none of that name
        return backup_id
    chosen = newest_verified(location)
    if chosen is None:
        raise BackupError(f"no backup in {location} has passed verification: name one (anime-dashboard backups "
                          "lists them), or verify one first (anime-dashboard verify)")
    return chosen


def restore_backup(location: BackupLocation, backup_id: str | None = None, *, superset: bool = False,
                   airflow: bool = False, force: bool = False, out: Callable[[str], None] = print) -> dict:
    """Restore a backup (default: the newest verified) into the configured databases; what was restored."""
    from anime_dashboard.backups import postgres, sqlite

    backup_id = choose_backup(location, backup_id)
    manifest = location.manifest(backup_id)
    targets = [dbs.warehouse()]
    for wanted, role, target in ((superset, "superset", dbs.superset_metadata),
                                 (airflow, "airflow", dbs.airflow_metadata)):
        if wanted:
            if role not in manifest["databases"]:
                raise BackupError(f"backup {backup_id} holds no {role} database (it holds "
                                  f"{', '.join(sorted(manifest['databases']))})")
            db = target(existing=False)
            if db is None:
                raise BackupError(f"no {role} database is configured to restore into")
            targets.append(db)
    for db in targets:
        facts = manifest["databases"][db.role]
        if facts["engine"] != db.engine:
            raise BackupError(f"backup {backup_id} holds {db.role} as {facts['engine']}, but {db.where()} is "
                              f"{db.engine}: restore it with that engine's own tools")

    warehouse = targets[0]
    lost = snapshots_in(warehouse) - _dates(manifest["databases"]["warehouse"].get("snapshots", {}))
    if lost and not force:
        raise BackupError(f"{warehouse.where()} holds {len(lost)} snapshots that backup {backup_id} does not, and "
                          f"a restore would lose them: {describe_dates(lost)}. Take a backup first "
                          "(anime-dashboard backup), restore a newer one, or restore --force to drop them")

    for db in targets:  # every file checked before anything is written
        facts = manifest["databases"][db.role]
        with location.local_file(backup_id, facts["file"]) as path:
            if not path.is_file() or sha256_of(path) != manifest["files"][facts["file"]]["sha256"]:
                raise BackupError(f"{backup_id}/{facts['file']} in {location} does not match its manifest "
                                  "(sha256): it cannot be restored; nothing was changed")
    restored = {}
    for db in targets:
        facts = manifest["databases"][db.role]
        with location.local_file(backup_id, facts["file"]) as path:
            if db.engine == "postgresql":
                if postgres.create_database_if_missing(db):
                    out(f"created the database {db.where()}")
                postgres.restore(db, path, int(facts["server_version"].split(".")[0]))
            else:
                sqlite.restore(db, path)
        restored[db.role] = db.where()
        out(f"restored {db.role} from backup {backup_id} ({location}) into {db.where()}")
    return {"backup_id": backup_id, "restored": restored, "dropped_snapshots": sorted(lost)}


def set_up_again(location: BackupLocation, out: Callable[[str], None] = print) -> None:
    """After a restore: the warehouse's setup (migrations newer than the backup, analytics views, the analyst
    role and its grants), the backups mirror, and Superset's chart caches refreshed when Superset is
    reachable (otherwise they expire on their own)."""
    from anime_dashboard.backups.catalog import record_backups
    from anime_dashboard.warehouse.setup import setup_warehouse
    from anime_dashboard.warehouse.db import connect

    setup_warehouse()
    out("setup run again: migrations, analytics views, the analyst role and its grants")
    with connect() as conn:
        record_backups(conn, location)
    from anime_dashboard.dashboards.cache import refresh_caches
    from anime_dashboard.dashboards.client import SupersetError, client_from_airflow_connection
    from anime_dashboard.settings import SUPERSET_CONN_ID

    try:
        client = client_from_airflow_connection(SUPERSET_CONN_ID)
        if client is not None:
            refresh_caches(client)
            out("Superset's chart caches refreshed")
            return
        reason = f"no Airflow connection {SUPERSET_CONN_ID!r}"
    except (SupersetError, OSError) as exc:
        reason = str(exc)
    out(f"Superset's chart caches were not refreshed ({reason}): dashboards may show the figures from before "
        "the restore until their caches expire, or until analytics_refresh runs")
