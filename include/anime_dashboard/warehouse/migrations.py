"""Applies ``sql/migrations/NNN_name.sql`` in order, once each, recorded in ``public.schema_migrations``.

Idempotent: applied files are skipped; an applied file whose text has changed is an error (write a new
migration instead). Each file runs in its own transaction under an advisory lock, so two setups at
once cannot apply the same file twice.
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from anime_dashboard.warehouse.db import query, sql_dir

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")

class MigrationError(RuntimeError):
    pass


def migration_files(directory: Path | None = None) -> list[Path]:
    directory = directory or sql_dir() / "migrations"
    files = sorted(p for p in directory.glob("*.sql"))
    bad = [p.name for p in files if not _NAME.match(p.name)]
    if bad:
        raise MigrationError(f"migration files must be named NNN_name.sql: {bad}")
    versions = [_NAME.match(p.name).group(1) for p in files]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {directory}")
    return files


def apply_migrations(conn, directory: Path | None = None) -> list[str]:
    """Apply pending migrations on a psycopg2 connection; return the file names applied."""
    applied_now: list[str] = []
    with conn:
        with conn.cursor() as cur:
            cur.execute(query("migration_lock"))
            cur.execute(query("create_schema_migrations"))
    for path in migration_files(directory):
        version = _NAME.match(path.name).group(1)
        text = path.read_text(encoding="utf-8")
        checksum = hashlib.sha256(text.encode()).hexdigest()
        with conn:  # one transaction per file
            with conn.cursor() as cur:
                cur.execute(query("migration_lock"))
                cur.execute(query("select_migration"), {"version": version})
                row = cur.fetchone()
                if row:
                    if row[0] != checksum:
                        raise MigrationError(
                            f"{path.name} was applied with other contents; never edit an applied "
                            "migration, add a new one")
                    continue
                log.info("applying migration %s", path.name)
                cur.execute(text)
                cur.execute(query("insert_migration"),
                            {"version": version, "filename": path.name, "checksum": checksum})
                applied_now.append(path.name)
    return applied_now
