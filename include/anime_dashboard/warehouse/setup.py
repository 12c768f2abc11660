"""The warehouse's part of setup: its database, migrations, analytics views and the analyst role with its
grants. ``anime-dashboard setup`` runs it (with the Airflow pool), and so does a restore after it has put a
backup back."""
from __future__ import annotations

import logging

from anime_dashboard.warehouse.db import connect, connection_params, query

log = logging.getLogger("anime_dashboard")


class SetupError(RuntimeError):
    pass


def create_warehouse_database() -> bool:
    """Create the warehouse database named in the connection if it is missing. True if created."""
    from psycopg2 import sql

    name = connection_params().get("dbname")
    if not name:
        raise SetupError("AIRFLOW_CONN_WAREHOUSE names no database (…/<database> at the end of the URL)")
    with connect(database="postgres") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(query("database_exists"), {"name": name})
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True


def migrate_warehouse() -> list[str]:
    from anime_dashboard.warehouse.migrations import apply_migrations

    with connect() as conn:
        return apply_migrations(conn)


def apply_analytics_views() -> bool:
    from anime_dashboard.analytics import apply_analytics

    with connect() as conn:
        return apply_analytics(conn)


def ensure_analyst() -> str:
    """The read-only analyst login role (name and password from the environment)."""
    from anime_dashboard.warehouse.roles import RoleError, analyst_settings, ensure_analyst_role

    try:
        settings = analyst_settings()
    except RoleError as exc:
        raise SetupError(str(exc)) from exc
    with connect() as conn:
        ensure_analyst_role(conn, role=settings["role"], password=settings["password"],
                            statement_timeout=settings["statement_timeout"])
    return settings["role"]


def setup_warehouse() -> None:
    """Each step in turn, idempotent, saying what it did."""
    if create_warehouse_database():
        log.info("created the warehouse database")
    applied = migrate_warehouse()
    log.info("warehouse migrations applied now: %s", applied or "none (up to date)")
    rebuilt = apply_analytics_views()
    log.info("analytics views %s", "rebuilt from sql/analytics" if rebuilt else "up to date")
    role = ensure_analyst()
    log.info("read-only analyst role %s: SELECT on analytics only", role)
