"""Connections to the warehouse and the SQL files under ``sql/``."""
from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from anime_dashboard.settings import PREFIX, WAREHOUSE_CONN_ID


def sql_dir() -> Path:
    """``sql/`` at the project root (``ANIME_DASHBOARD_SQL_DIR`` overrides it)."""
    override = os.environ.get(PREFIX + "SQL_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "sql"


@functools.cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def query(name: str) -> str:
    """The text of ``sql/queries/<name>.sql``."""
    path = sql_dir() / "queries" / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    return _read(path)


def connection_params(conn_id: str = WAREHOUSE_CONN_ID, database: str | None = None) -> dict:
    """psycopg2 keyword arguments from the Airflow connection ``conn_id`` (env ``AIRFLOW_CONN_WAREHOUSE``).

    We connect with psycopg2 ourselves rather than through PostgresHook.get_conn(), which switches to
    psycopg 3 (other transaction semantics) whenever SQLAlchemy 2 and psycopg 3 are installed.
    """
    from airflow.sdk import BaseHook

    c = BaseHook.get_connection(conn_id)
    params = {"host": c.host or "127.0.0.1", "port": int(c.port or 5432), "user": c.login or None,
              "password": c.password or None, "dbname": database or c.schema or None,
              "application_name": "anime_dashboard"}
    extra = c.extra_dejson or {}
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options"):
        if key in extra:
            params[key] = extra[key]
    return {k: v for k, v in params.items() if v is not None}


@contextmanager
def connect(conn_id: str = WAREHOUSE_CONN_ID, database: str | None = None, **overrides) -> Iterator:
    """A psycopg2 connection to the warehouse (or another database on its server), closed after; ``overrides``:
    psycopg2 keywords over the connection's (e.g. ``connect_timeout``)."""
    import psycopg2

    conn = psycopg2.connect(**{**connection_params(conn_id, database), **overrides})
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn) -> Iterator:
    """One transaction on a psycopg2 connection: committed at the end, rolled back on an error, which is
    re-raised as it is. (``with conn:`` rolls back too, but on a connection the server has dropped that
    rollback raises ``InterfaceError: connection already closed`` over the real error.)"""
    import psycopg2

    try:
        yield conn
    except BaseException:
        if not conn.closed:
            try:
                conn.rollback()
            except psycopg2.Error:  # the connection broke under us: the error being raised says why
                pass
        raise
    conn.commit()
