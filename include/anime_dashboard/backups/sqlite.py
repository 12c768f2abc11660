"""SQLite databases in a backup (``make run``'s Superset and Airflow metadata): SQLite's own online backup
API, which copies a consistent database while others keep using it, both to take a backup and to restore
one into the live file (readers see the old or the new database, never a mix)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from anime_dashboard.backups.databases import BackupError, Database


def _connect(path: str | Path, *, read_only: bool = False) -> sqlite3.Connection:
    uri = f"{Path(path).resolve().as_uri()}{'?mode=ro' if read_only else ''}"
    try:
        return sqlite3.connect(uri, uri=True, timeout=60)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the SQLite database {path}: {exc}") from exc


def read_facts(conn: sqlite3.Connection) -> dict:
    """Rows per table and the Alembic migration, as for a PostgreSQL database."""
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t.replace(chr(34), chr(34) * 2)}"').fetchone()[0]
              for t in tables}
    migrations = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version ORDER BY 1")] \
        if "alembic_version" in tables else []
    return {"row_counts": counts, "migrations": migrations}


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, what: str) -> None:
    try:
        source.backup(target)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite's backup of {what} failed: {exc}") from exc


def dump(db: Database, path: Path) -> dict:
    source, target = _connect(db.params["path"], read_only=True), _connect(path)
    try:
        _copy(source, target, db.where())
        facts = read_facts(target)  # the copy: exactly what the backup holds
    finally:
        source.close()
        target.close()
    return {"engine": "sqlite", "server_version": sqlite3.sqlite_version, "dump_tool": "sqlite3 backup API",
            "database": db.params["path"], **facts}


def facts_of(path: Path) -> dict:
    """The facts of a backup copy, after SQLite's integrity check of it."""
    conn = _connect(path, read_only=True)
    try:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupError(f"the SQLite copy {path} fails its integrity check: {problems[:5]}")
        return read_facts(conn)
    finally:
        conn.close()


def restore(db: Database, path: Path) -> None:
    """The copy in ``path`` becomes the live database (created when missing)."""
    Path(db.params["path"]).parent.mkdir(parents=True, exist_ok=True)
    source, target = _connect(path, read_only=True), _connect(db.params["path"])
    try:
        _copy(source, target, str(path))
    finally:
        source.close()
        target.close()
