"""Helpers shared by tests and fixtures: the test Postgres server and throwaway databases."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
PG = {"host": os.environ.get("TEST_PGHOST", "127.0.0.1"), "port": int(os.environ.get("TEST_PGPORT", "5432")),
      "user": os.environ.get("TEST_PGUSER", "postgres")}
RUN_TOKEN = uuid.uuid4().hex[:10]


def _admin():
    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    return conn


def create_database(prefix: str) -> str:
    name = f"{prefix}_{RUN_TOKEN}_{uuid.uuid4().hex[:6]}"
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return name


def drop_database(name: str) -> None:
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def pg_uri(dbname: str) -> str:
    return f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{dbname}"
