"""Scratch databases on the warehouse's PostgreSQL server: created, migrated, dropped.

The server is AIRFLOW_CONN_WAREHOUSE's (this machine's on 127.0.0.1:5432 by default); TEST_PGHOST, TEST_PGPORT and
TEST_PGUSER override its host, port and user."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg2


def server_params() -> dict:
    """psycopg2 keywords for the server (no database)."""
    url = urlsplit(os.environ.get("AIRFLOW_CONN_WAREHOUSE", "postgresql://postgres@127.0.0.1:5432/postgres"))
    return {"host": os.environ.get("TEST_PGHOST") or url.hostname or "127.0.0.1",
            "port": int(os.environ.get("TEST_PGPORT") or url.port or 5432),
            "user": os.environ.get("TEST_PGUSER") or url.username or "postgres",
            **({"password": url.password} if url.password else {})}


def pg_uri(dbname: str, params: dict | None = None) -> str:
    """A postgresql:// URL of ``dbname`` on the server."""
    p = params or server_params()
    auth = p["user"] + (f":{p['password']}" if p.get("password") else "")
    return f"postgresql://{auth}@{p['host']}:{p['port']}/{dbname}"


def admin(sql: str) -> None:
    """One statement on the server's postgres database, autocommit (CREATE/DROP DATABASE, DROP ROLE)."""
    conn = psycopg2.connect(dbname="postgres", **server_params())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def create_database(prefix: str) -> str:
    """A new empty database named ``<prefix>_<8 hex>``; its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(conn) -> None:
    """Every migration and the analytics views applied, as `anime-dashboard setup` does."""
    from anime_dashboard.analytics import apply_analytics
    from anime_dashboard.warehouse.migrations import apply_migrations

    apply_migrations(conn)
    apply_analytics(conn)


@contextmanager
def scratch_database(prefix: str, keep: bool = False,
                     migrated: bool = False) -> Iterator[tuple[str, "psycopg2.extensions.connection"]]:
    """A database of its own and a connection to it (``migrated``: with the warehouse's schema); both gone
    afterwards unless ``keep``."""
    name = create_database(prefix)
    try:
        conn = psycopg2.connect(dbname=name, **server_params())
        try:
            if migrated:
                migrate(conn)
            yield name, conn
        finally:
            conn.close()
    finally:
        if not keep:
            drop_database(name)


def drop_role(name: str) -> None:
    """A login role of the server gone (roles are cluster-wide: drop the databases it has grants in first)."""
    admin(f'DROP ROLE IF EXISTS "{name}"')
