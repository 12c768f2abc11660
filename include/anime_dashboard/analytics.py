"""The ``analytics`` schema: what analysts, BI tools and Superset read (and nothing else of the warehouse).

Its definitions live in ``sql/analytics/NNN_name.sql`` (views and ``COMMENT ON`` for every view and
column). Unlike the numbered migrations they are *repeatable*: when the
files change, :func:`apply_analytics` rebuilds the whole schema from them in one transaction (readers see
the old definitions or the new ones), and records the checksum. Grants to the analyst role are
re-applied by setup after it.

Nothing in it needs a refresh: its views read the warehouse, the history ones the tables each load keeps
(``core.market_daily``, ``core.list_changes``; migration 008).
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from anime_dashboard.warehouse.db import query, sql_dir

log = logging.getLogger(__name__)

SCHEMA = "analytics"
_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")


class AnalyticsError(RuntimeError):
    pass


def definition_files(directory: Path | None = None) -> list[Path]:
    directory = directory or sql_dir() / "analytics"
    files = sorted(directory.glob("*.sql"))
    bad = [p.name for p in files if not _NAME.match(p.name)]
    if bad:
        raise AnalyticsError(f"analytics files must be named NNN_name.sql: {bad}")
    return files


def definitions_checksum(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def apply_analytics(conn, directory: Path | None = None, *, force: bool = False) -> bool:
    """(Re)build the analytics schema when its definitions changed. True if it was rebuilt."""
    files = definition_files(directory)
    checksum = definitions_checksum(files)
    with conn, conn.cursor() as cur:
        cur.execute(query("migration_lock"))
        cur.execute(query("create_analytics_definitions"))
        cur.execute(query("select_analytics_checksum"))
        row = cur.fetchone()
        if row and row[0] == checksum and not force:
            return False
        log.info("rebuilding the analytics schema from %d files", len(files))
        cur.execute(query("drop_analytics_schema"))
        for path in files:
            try:
                cur.execute(path.read_text(encoding="utf-8"))
            except Exception as exc:
                raise AnalyticsError(f"{path.name}: {exc}".strip()) from exc
        cur.execute(query("record_analytics_checksum"), {"checksum": checksum,
                                                         "files": [p.name for p in files]})
    return True
