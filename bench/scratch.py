"""The warehouse's server as the benchmarks use it: where scratch databases go, and admin statements."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from urllib.parse import urlparse

import psycopg2


def server_params() -> dict:
    """psycopg2 keywords for the server named by AIRFLOW_CONN_WAREHOUSE (no database)."""
    url = urlparse(os.environ.get("AIRFLOW_CONN_WAREHOUSE", "postgresql://postgres@127.0.0.1:5432/postgres"))
    return {"host": url.hostname or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
            **({"password": url.password} if url.password else {})}


def admin(sql: str) -> None:
    """Run one statement on the server's postgres database, autocommit (CREATE/DROP DATABASE)."""
    conn = psycopg2.connect(dbname="postgres", **server_params())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextmanager
def database(prefix: str = "ad_bench", keep: bool = False):
    """A scratch database on the server and a connection to it; dropped afterwards unless ``keep``."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        conn = psycopg2.connect(dbname=name, **server_params())
        try:
            yield name, conn
        finally:
            conn.close()
    finally:
        if not keep:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
