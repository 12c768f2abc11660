"""The analyst login role reads the analytics schema and nothing else, whatever the analyst tries.

Connects as the role (trust auth on loopback) to the session's warehouse database. Write and DDL
attempts run in ``BEGIN READ WRITE``, the analyst's own way past the read-only default, so what stops
them is privileges, not the setting; the read-only default has tests of its own. Before the role is
set up the module restores PostgreSQL 14's default (PUBLIC may CREATE in schema ``public``), so the
matrix proves the revoke on 15+ as well. Roles are cluster-wide: every role here is named after the
run token and dropped at the end.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import psycopg2
import pytest
from psycopg2 import errors, sql

from anime_dashboard.warehouse.migrations import apply_migrations
from anime_dashboard.warehouse.roles import (
    RoleError,
    analyst_role_problems,
    analyst_settings,
    drop_analyst_role,
    ensure_analyst_role,
    scram_sha_256_verifier,
    verifier_matches,
)
from support import PG, RUN_TOKEN
from testkit.warehouse import create_database, drop_database

ROLE = f"ad_analyst_{RUN_TOKEN}"
PASSWORD = "correct horse battery staple"
TIMEOUT = "60s"
# our own objects in analytics: two before ensure_analyst_role runs, two after (default privileges)
BEFORE = {"analytics.ad_test_titles_v": "v", "analytics.ad_test_snapshots_mv": "m"}
AFTER = {"analytics.ad_test_after_v": "v", "analytics.ad_test_after_mv": "m"}
Denied = errors.InsufficientPrivilege


def owner_connection(dbname):
    conn = psycopg2.connect(dbname=dbname, **PG)
    conn.autocommit = True
    return conn


@contextmanager
def connected_as(role, dbname):
    conn = psycopg2.connect(dbname=dbname, host=PG["host"], port=PG["port"], user=role)
    conn.autocommit = True  # we say BEGIN ourselves, as an analyst in psql would
    try:
        yield conn
    finally:
        conn.close()


def attempt(conn, statement, mode="read write"):
    """Run ``statement`` in its own transaction and roll back; the psycopg2 error it raised, or None.

    mode: "read write" (``BEGIN READ WRITE``), "default" (plain ``BEGIN``: read-only for the analyst)
    or "autocommit" (no transaction block, read-only off: for statements that refuse to run in one).
    """
    if mode == "autocommit":
        before, after = "SET default_transaction_read_only = off", "RESET default_transaction_read_only"
    else:
        before, after = "BEGIN READ WRITE" if mode == "read write" else "BEGIN", "ROLLBACK"
    with conn.cursor() as cur:
        cur.execute(before)
        try:
            cur.execute(statement)
        except psycopg2.Error as exc:
            return exc
        finally:
            cur.execute(after)
    return None


def assert_fails(conn, statement, error=Denied, mode="read write"):
    exc = attempt(conn, statement, mode)
    shown = statement if isinstance(statement, str) else statement.as_string(conn)
    assert isinstance(exc, error), f"{shown!r} should fail with {error.__name__}, got {exc!r}"


def fetch(conn, statement, params=None):
    with conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def show(conn, name):
    return fetch(conn, sql.SQL("SHOW {}").format(sql.Identifier(name)))[0][0]


def same_duration(conn, a, b):
    return fetch(conn, "SELECT %s::interval = %s::interval", (a, b))[0][0]


def tables_in(conn, schema):
    rows = fetch(conn, "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,))
    return [sql.Identifier(schema, name) for (name,) in rows]


def analytics_relations(conn):
    return dict(fetch(conn, "SELECT format('%%I.%%I', n.nspname, c.relname), c.relkind::text FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = %s AND c.relkind IN ('v', 'm') ORDER BY 1", ("analytics",)))


def stored_verifier(conn, role):
    return fetch(conn, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))[0][0]


def force_drop_role(owner, name):
    """Cleanup whatever state a failed test left: the role, its grants and anything it owns here."""
    if fetch(owner, "SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,))[0][0]:
        with owner.cursor() as cur:
            cur.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(name)))


@contextmanager
def extra_role(owner, suffix):
    """Another throwaway role name for one test, dropped (with its grants here) at the end."""
    name = f"{ROLE}_{suffix}"
    try:
        yield name
    finally:
        force_drop_role(owner, name)


@pytest.fixture(scope="module")
def role(warehouse_db):
    owner = owner_connection(warehouse_db)
    try:
        with owner.cursor() as cur:
            # PostgreSQL 14's default (15+ no longer grants it): ensure_analyst_role has to take it back
            cur.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
            cur.execute("CREATE VIEW analytics.ad_test_titles_v AS SELECT mal_id, title FROM core.titles")
            cur.execute("CREATE MATERIALIZED VIEW analytics.ad_test_snapshots_mv AS "
                        "SELECT snapshot_type, count(*) AS snapshots FROM core.snapshots GROUP BY snapshot_type")
        ensure_analyst_role(owner, role=ROLE, password=PASSWORD, statement_timeout=TIMEOUT)
        with owner.cursor() as cur:
            cur.execute("CREATE VIEW analytics.ad_test_after_v AS SELECT snapshot_type, snapshot_date FROM core.snapshots")
            cur.execute("CREATE MATERIALIZED VIEW analytics.ad_test_after_mv AS SELECT mal_id FROM core.titles")
        yield ROLE
    finally:  # the session's warehouse is shared: leave analytics as the other tests expect it
        with owner.cursor() as cur:
            cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            for name, kind in {**BEFORE, **AFTER}.items():
                cur.execute(f"DROP {'MATERIALIZED VIEW' if kind == 'm' else 'VIEW'} IF EXISTS {name}")
        try:
            drop_analyst_role(owner, ROLE)
        finally:
            force_drop_role(owner, ROLE)
            owner.close()


@pytest.fixture
def owner(warehouse_db):
    conn = owner_connection(warehouse_db)
    yield conn
    conn.close()


@pytest.fixture
def analyst(role, warehouse_db):
    with connected_as(role, warehouse_db) as conn:
        yield conn


# --- nothing outside analytics --------------------------------------------------------------------------

WRITES = {
    "insert": "INSERT INTO {table} DEFAULT VALUES",
    "update": "UPDATE {table} SET {column} = {column} WHERE false",
    "delete": "DELETE FROM {table} WHERE false",
    "truncate": "TRUNCATE {table}",
}


@pytest.mark.parametrize("schema", ["raw", "core", "public"])
@pytest.mark.parametrize("write", list(WRITES))
def test_analyst_cannot_write_any_table_outside_analytics(analyst, owner, write, schema):
    tables = tables_in(owner, schema)
    assert tables, f"no tables in {schema}"
    for table in tables:
        column = fetch(owner, "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
                       (table.as_string(owner),))[0][0]
        assert_fails(analyst, sql.SQL(WRITES[write]).format(table=table, column=sql.Identifier(column)))


@pytest.mark.parametrize("write", ["insert", "update", "delete"])
def test_analyst_cannot_write_through_an_updatable_analytics_view(analyst, write):
    # a simple view is automatically updatable: with INSERT/UPDATE/DELETE on it, writes reach core.titles
    assert_fails(analyst, sql.SQL(WRITES[write]).format(table=sql.Identifier("analytics", "ad_test_titles_v"),
                                                        column=sql.Identifier("title")))


@pytest.mark.parametrize("schema", ["raw", "core", "public"])
def test_analyst_cannot_read_any_table_outside_analytics(analyst, owner, schema):
    tables = tables_in(owner, schema)
    if schema == "public":
        assert sql.Identifier("public", "schema_migrations") in tables
    assert tables, f"no tables in {schema}"
    for table in tables:
        assert_fails(analyst, sql.SQL("SELECT * FROM {} LIMIT 1").format(table), mode="default")


DDL_AND_ESCALATION = [
    *[pytest.param(f"CREATE TABLE {s}.ad_test_intruder (a integer)", "read write", id=f"create-table-{s}")
      for s in ("raw", "core", "analytics", "public")],
    *[pytest.param(f"CREATE VIEW {s}.ad_test_intruder AS SELECT 1 AS a", "read write", id=f"create-view-{s}")
      for s in ("raw", "core", "analytics", "public")],
    pytest.param("CREATE TEMP TABLE ad_test_intruder (a integer)", "read write", id="create-temp-table"),
    pytest.param("CREATE SCHEMA ad_test_intruder", "read write", id="create-schema"),
    pytest.param("DROP VIEW analytics.ad_test_titles_v", "read write", id="drop-view-analytics"),
    pytest.param("DROP MATERIALIZED VIEW analytics.ad_test_snapshots_mv", "read write", id="drop-matview-analytics"),
    pytest.param("ALTER VIEW analytics.ad_test_titles_v RENAME TO ad_test_renamed", "read write",
                 id="rename-view-analytics"),
    pytest.param("REFRESH MATERIALIZED VIEW analytics.ad_test_snapshots_mv", "read write",
                 id="refresh-matview-analytics"),
    pytest.param("DROP TABLE core.titles", "read write", id="drop-table-core"),
    pytest.param("COPY (SELECT 1) TO PROGRAM 'true'", "default", id="copy-to-program"),
    pytest.param("COPY (SELECT 1) TO '/tmp/ad_test_intruder'", "default", id="copy-to-server-file"),
    pytest.param("SELECT pg_read_file('/etc/passwd')", "default", id="pg_read_file"),
    pytest.param("SELECT pg_ls_dir('.')", "default", id="pg_ls_dir"),
    pytest.param("SELECT lo_import('/etc/passwd')", "read write", id="lo_import"),
    pytest.param("SET ROLE {superuser}", "default", id="set-role-superuser"),
    pytest.param("SET ROLE {db_owner}", "default", id="set-role-database-owner"),
    pytest.param("SET SESSION AUTHORIZATION {superuser}", "default", id="set-session-authorization"),
    pytest.param("ALTER ROLE {me} SUPERUSER", "read write", id="alter-own-role-superuser"),
    pytest.param("GRANT pg_read_all_data TO {me}", "read write", id="grant-self-pg_read_all_data"),
    pytest.param("CREATE ROLE ad_test_intruder", "read write", id="create-role"),
    pytest.param("CREATE DATABASE {intruder_db}", "autocommit", id="create-database"),
]


@pytest.mark.parametrize(("statement", "mode"), DDL_AND_ESCALATION)
def test_analyst_cannot_change_anything_or_escape_the_role(analyst, owner, role, warehouse_db, statement, mode):
    superuser = fetch(owner, "SELECT current_user")[0][0]
    db_owner = fetch(owner, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                     (warehouse_db,))[0][0]
    intruder_db = f"ad_test_intruder_{RUN_TOKEN}"
    try:
        assert_fails(analyst, sql.SQL(statement).format(
            superuser=sql.Identifier(superuser), db_owner=sql.Identifier(db_owner), me=sql.Identifier(role),
            intruder_db=sql.Identifier(intruder_db)), mode=mode)
        assert fetch(analyst, "SELECT current_user, session_user")[0] == (role, role)
    finally:  # a CREATE DATABASE that succeeded would stay (and make the role an owner)
        if "intruder_db" in statement:
            drop_database(intruder_db)


@pytest.mark.parametrize("statement", [
    pytest.param("INSERT INTO core.titles (mal_id, title, snapshot_types, first_seen, last_seen, snapshots, "
                 "synthetic) VALUES (1, 'x', '{top}', current_date, current_date, 1, false)", id="insert-core"),
    pytest.param("CREATE TABLE analytics.ad_test_intruder (a integer)", id="create-table-analytics"),
])
def test_turning_read_only_off_still_leaves_the_analyst_unable_to_write(analyst, owner, statement):
    with analyst.cursor() as cur:
        cur.execute("SET default_transaction_read_only = off")
        assert show(analyst, "transaction_read_only") == "off"
    try:
        assert_fails(analyst, statement, mode="autocommit")  # autocommit: a success would stay
        assert_fails(analyst, statement, mode="read write")
    finally:
        with owner.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS analytics.ad_test_intruder")
            cur.execute("DELETE FROM core.titles WHERE mal_id = 1 AND title = 'x'")


def test_new_core_tables_stay_unreadable_while_new_analytics_views_are_readable(analyst, owner):
    with owner.cursor() as cur:
        cur.execute("CREATE TABLE core.ad_test_later (a integer)")
        cur.execute("CREATE VIEW analytics.ad_test_later_v AS SELECT 1 AS a")
    try:
        assert_fails(analyst, "SELECT * FROM core.ad_test_later", mode="default")
        assert fetch(analyst, "SELECT a FROM analytics.ad_test_later_v") == [(1,)]
    finally:
        with owner.cursor() as cur:
            cur.execute("DROP VIEW analytics.ad_test_later_v; DROP TABLE core.ad_test_later")


# --- what the analyst can do ----------------------------------------------------------------------------

def test_analyst_can_read_every_view_and_materialized_view_in_analytics(analyst, owner):
    relations = analytics_relations(owner)
    assert relations.items() >= {**BEFORE, **AFTER}.items()  # both kinds, before and after the grants
    failures = {}
    for name in relations:
        exc = attempt(analyst, f"SELECT count(*) FROM {name}", mode="default")
        if exc is not None:
            failures[name] = repr(exc)
    assert failures == {}


def test_analyst_sessions_are_read_only_by_default(analyst):
    assert show(analyst, "default_transaction_read_only") == "on"
    with analyst.cursor() as cur:
        cur.execute("BEGIN")
        assert show(analyst, "transaction_read_only") == "on"
        cur.execute("ROLLBACK")
    # refused for being a write before any privilege is checked (read write: InsufficientPrivilege)
    assert_fails(analyst, "INSERT INTO public.schema_migrations DEFAULT VALUES", errors.ReadOnlySqlTransaction,
                 mode="default")
    assert_fails(analyst, "CREATE TEMP TABLE ad_test_intruder (a integer)", errors.ReadOnlySqlTransaction,
                 mode="default")


def test_analyst_sessions_have_the_statement_and_idle_timeouts(analyst):
    assert same_duration(analyst, show(analyst, "statement_timeout"), TIMEOUT)
    assert same_duration(analyst, show(analyst, "idle_in_transaction_session_timeout"), "5min")


def test_a_query_running_longer_than_the_statement_timeout_is_cancelled(owner, warehouse_db):
    with extra_role(owner, "timeout") as name:
        ensure_analyst_role(owner, role=name, password=PASSWORD, statement_timeout="1s")
        with connected_as(name, warehouse_db) as conn:
            started = time.monotonic()
            assert_fails(conn, "SELECT pg_sleep(3)", errors.QueryCanceled, mode="default")
            assert time.monotonic() - started < 2.5
        assert drop_analyst_role(owner, name) and not drop_analyst_role(owner, name)


# --- the role itself ------------------------------------------------------------------------------------

def test_role_is_a_plain_login_that_cannot_create_roles_or_databases(owner, role, warehouse_db):
    (row,) = fetch(owner, "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolinherit, rolreplication, "
                          "rolbypassrls, rolconnlimit, rolvaliduntil = 'infinity' FROM pg_roles WHERE rolname = %s",
                   (role,))
    assert row == (True, False, False, False, False, False, False, 20, True)
    assert fetch(owner, "SELECT count(*) FROM pg_auth_members WHERE member = %s::regrole", (role,)) == [(0,)]
    assert fetch(owner, "SELECT has_database_privilege(%s, %s, 'CONNECT'), has_database_privilege(%s, %s, 'CREATE'), "
                        "has_database_privilege(%s, %s, 'TEMPORARY')", (role, warehouse_db) * 3) == [(True, False, False)]
    assert analyst_role_problems(owner, role) == []


def test_password_is_stored_as_a_scram_verifier_of_the_configured_password(owner, role):
    verifier = stored_verifier(owner, role)
    assert verifier.startswith("SCRAM-SHA-256$")
    assert verifier_matches(verifier, PASSWORD) and not verifier_matches(verifier, PASSWORD + "!")


def test_scram_verifier_is_the_one_postgres_computes_from_the_password(owner):
    with extra_role(owner, "scram") as name:
        with owner.cursor() as cur:
            cur.execute(sql.SQL("SET password_encryption = 'scram-sha-256'; CREATE ROLE {} PASSWORD %s")
                        .format(sql.Identifier(name)), (PASSWORD,))
        server_side = stored_verifier(owner, name)
        assert verifier_matches(server_side, PASSWORD)
        assert scram_sha_256_verifier(PASSWORD) != server_side  # a fresh salt each time


def privilege_state(conn, role):
    """Everything about the role and the privileges of this database (except the salted password)."""
    return {
        "role": fetch(conn, "SELECT r.*, (SELECT array_agg(setconfig ORDER BY setdatabase) FROM pg_db_role_setting "
                            "WHERE setrole = r.oid) FROM pg_roles r WHERE rolname = %s", (role,)),
        "members": fetch(conn, "SELECT roleid::regrole::text FROM pg_auth_members WHERE member = %s::regrole", (role,)),
        "database": fetch(conn, "SELECT datacl::text FROM pg_database WHERE datname = current_database()"),
        "schemas": fetch(conn, "SELECT nspname, nspacl::text FROM pg_namespace ORDER BY 1"),
        "relations": fetch(conn, "SELECT c.oid::regclass::text, relacl::text FROM pg_class c JOIN pg_namespace n "
                                 "ON n.oid = relnamespace WHERE nspname IN ('raw', 'core', 'public', 'analytics') "
                                 "ORDER BY 1"),
        "defaults": fetch(conn, "SELECT defaclrole::regrole::text, defaclnamespace::regnamespace::text, "
                                "defaclobjtype::text, defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3"),
    }


def test_ensure_analyst_role_twice_changes_nothing(owner, role):
    ensure_analyst_role(owner, role=role, password=PASSWORD, statement_timeout=TIMEOUT)
    first = privilege_state(owner, role)
    ensure_analyst_role(owner, role=role, password=PASSWORD, statement_timeout=TIMEOUT)
    assert privilege_state(owner, role) == first
    assert verifier_matches(stored_verifier(owner, role), PASSWORD)


def test_ensure_puts_back_what_the_analyst_changed_on_their_own_role(analyst, owner, role, warehouse_db):
    # PostgreSQL lets any role change its own password and session defaults: only setup undoes it
    with analyst.cursor() as cur:
        cur.execute("BEGIN READ WRITE")
        cur.execute(sql.SQL("ALTER ROLE {0} SET statement_timeout = 0; ALTER ROLE {0} RESET default_transaction_read_only;"
                            "ALTER ROLE {0} IN DATABASE {1} SET default_transaction_read_only = off;"
                            "ALTER ROLE {0} PASSWORD 'mine now'")
                    .format(sql.Identifier(role), sql.Identifier(warehouse_db)))
        cur.execute("COMMIT")
    with connected_as(role, warehouse_db) as loosened:
        assert show(loosened, "default_transaction_read_only") == "off"
    ensure_analyst_role(owner, role=role, password=PASSWORD, statement_timeout=TIMEOUT)
    with connected_as(role, warehouse_db) as conn:
        assert show(conn, "default_transaction_read_only") == "on"
        assert same_duration(conn, show(conn, "statement_timeout"), TIMEOUT)
    assert verifier_matches(stored_verifier(owner, role), PASSWORD)


def test_ensure_takes_back_privileges_granted_to_the_role_by_hand(owner, warehouse_db):
    with extra_role(owner, "loose") as name:
        with owner.cursor() as cur:
            cur.execute(sql.SQL(
                "CREATE ROLE {r} LOGIN CREATEDB CREATEROLE INHERIT BYPASSRLS;"
                "GRANT pg_read_all_data TO {r};"
                "GRANT TEMPORARY, CREATE ON DATABASE {db} TO {r};"
                "GRANT USAGE, CREATE ON SCHEMA core TO {r}; GRANT SELECT ON core.titles TO {r};"
                "GRANT INSERT, UPDATE ON analytics.ad_test_titles_v TO {r}; GRANT CREATE ON SCHEMA analytics TO {r};"
                "ALTER DEFAULT PRIVILEGES IN SCHEMA core GRANT SELECT ON TABLES TO {r};"
                "ALTER DEFAULT PRIVILEGES GRANT SELECT ON SEQUENCES TO {r}"
            ).format(r=sql.Identifier(name), db=sql.Identifier(warehouse_db)))
        assert len(analyst_role_problems(owner, name)) >= 10
        ensure_analyst_role(owner, role=name, password=PASSWORD)
        assert analyst_role_problems(owner, name) == []
        with connected_as(name, warehouse_db) as conn:
            assert_fails(conn, "SELECT * FROM core.titles", mode="default")
            assert_fails(conn, "SELECT * FROM raw.extract_batches", mode="default")  # pg_read_all_data is gone
            assert_fails(conn, "INSERT INTO analytics.ad_test_titles_v (mal_id, title) VALUES (1, 'x')")
            assert_fails(conn, "CREATE TABLE core.ad_test_intruder (a integer)")
            assert_fails(conn, "CREATE TEMP TABLE ad_test_intruder (a integer)")
            assert fetch(conn, "SELECT count(*) FROM analytics.ad_test_titles_v")
        assert drop_analyst_role(owner, name)


def test_ensure_fails_and_changes_nothing_when_public_can_read_outside_analytics(owner, role):
    before = privilege_state(owner, role)
    with owner.cursor() as cur:
        cur.execute("GRANT USAGE ON SCHEMA core TO PUBLIC; GRANT SELECT ON core.snapshots TO PUBLIC")
    try:
        with pytest.raises(RoleError, match=r"core\.snapshots: a privilege is granted"):
            ensure_analyst_role(owner, role=role, password="another password", statement_timeout="5s")
    finally:
        with owner.cursor() as cur:
            cur.execute("REVOKE SELECT ON core.snapshots FROM PUBLIC; REVOKE USAGE ON SCHEMA core FROM PUBLIC")
    assert privilege_state(owner, role) == before
    assert verifier_matches(stored_verifier(owner, role), PASSWORD)


@pytest.mark.parametrize("kind", ["superuser", "owner-of-a-table"])
def test_ensure_refuses_to_turn_a_superuser_or_an_owner_into_the_analyst(owner, kind):
    with extra_role(owner, "taken") as name:
        with owner.cursor() as cur:
            if kind == "superuser":
                cur.execute(sql.SQL("CREATE ROLE {} SUPERUSER").format(sql.Identifier(name)))
            else:
                cur.execute(sql.SQL("CREATE ROLE {0}; CREATE TABLE core.ad_test_owned (a integer);"
                                    "ALTER TABLE core.ad_test_owned OWNER TO {0}").format(sql.Identifier(name)))
        try:
            with pytest.raises(RoleError, match="refusing"):
                ensure_analyst_role(owner, role=name, password=PASSWORD)
            with pytest.raises(RoleError, match="refusing"):
                drop_analyst_role(owner, name)
            assert fetch(owner, "SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = %s", (name,)) == [
                (kind == "superuser", False)]
        finally:
            with owner.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS core.ad_test_owned")


def test_grants_are_reapplied_after_the_analytics_schema_is_rebuilt():
    dbname = create_database("ad_test_roles")
    name = f"{ROLE}_rebuilt"
    owner = owner_connection(dbname)
    try:
        apply_migrations(owner)
        with owner.cursor() as cur:
            cur.execute("DROP SCHEMA analytics CASCADE; CREATE SCHEMA analytics;"
                        "CREATE VIEW analytics.first_v AS SELECT 1 AS a")
        ensure_analyst_role(owner, role=name, password=PASSWORD)
        with owner.cursor() as cur:  # what a rebuild of the schema does
            cur.execute("DROP SCHEMA analytics CASCADE; CREATE SCHEMA analytics;"
                        "CREATE VIEW analytics.second_v AS SELECT count(*) AS n FROM core.titles;"
                        "CREATE MATERIALIZED VIEW analytics.second_mv AS SELECT count(*) AS n FROM core.snapshots")
        with connected_as(name, dbname) as conn:
            assert_fails(conn, "SELECT * FROM analytics.second_v", mode="default")  # the grants went with it
        ensure_analyst_role(owner, role=name, password=PASSWORD)
        with owner.cursor() as cur:
            cur.execute("CREATE VIEW analytics.third_v AS SELECT 3 AS a")
        with connected_as(name, dbname) as conn:
            for view in ("second_v", "second_mv", "third_v"):
                assert fetch(conn, f"SELECT count(*) FROM analytics.{view}") == [(1,)]
        assert drop_analyst_role(owner, name)
    finally:
        force_drop_role(owner, name)
        owner.close()
        drop_database(dbname)


# --- settings and input checks --------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_a_missing_analyst_password_is_a_clear_error(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("ANIME_DASHBOARD_ANALYST_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("ANIME_DASHBOARD_ANALYST_PASSWORD", value)
    with pytest.raises(RoleError, match=r"ANIME_DASHBOARD_ANALYST_PASSWORD.*make run.*\.env"):
        analyst_settings()
    with pytest.raises(RoleError, match="password is empty"):
        ensure_analyst_role(None, role=ROLE, password="")


def test_analyst_settings_come_from_the_environment_with_defaults(monkeypatch):
    monkeypatch.delenv("ANIME_DASHBOARD_ANALYST_USER", raising=False)
    monkeypatch.delenv("ANIME_DASHBOARD_ANALYST_STATEMENT_TIMEOUT", raising=False)
    monkeypatch.setenv("ANIME_DASHBOARD_ANALYST_PASSWORD", "s3cret-pw")
    settings = analyst_settings()
    assert dict(settings) == {"role": "analyst", "password": "s3cret-pw", "statement_timeout": "60s"}
    assert "s3cret-pw" not in repr(settings)
    monkeypatch.setenv("ANIME_DASHBOARD_ANALYST_USER", "bi_reader")
    monkeypatch.setenv("ANIME_DASHBOARD_ANALYST_STATEMENT_TIMEOUT", "2min")
    assert (analyst_settings()["role"], analyst_settings().statement_timeout) == ("bi_reader", "2min")


@pytest.mark.parametrize("role_name", ['an"alyst', "analyst; DROP ROLE postgres", "Analyst", "pg_analyst", "public",
                                       "", "a" * 64, "1analyst", "analyst\n"])
def test_unsafe_role_names_are_refused(role_name):
    with pytest.raises(RoleError, match="not allowed"):
        ensure_analyst_role(None, role=role_name, password=PASSWORD)


@pytest.mark.parametrize("timeout", ["0", "abc", "-1s", "60s; RESET ALL", "1 fortnight"])
def test_statement_timeouts_that_are_not_positive_durations_are_refused(monkeypatch, timeout):
    with pytest.raises(RoleError, match="not a positive duration"):
        ensure_analyst_role(None, role=ROLE, password=PASSWORD, statement_timeout=timeout)
    monkeypatch.setenv("ANIME_DASHBOARD_ANALYST_PASSWORD", PASSWORD)
    monkeypatch.setenv("ANIME_DASHBOARD_ANALYST_STATEMENT_TIMEOUT", timeout)
    with pytest.raises(RoleError, match="not a positive duration"):
        analyst_settings()
