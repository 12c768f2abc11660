"""The analyst login role: reads the ``analytics`` schema of the warehouse and nothing else.

Analysts, BI tools and Superset log in as this role (``docs/analysts.md``). What keeps them out of the
rest of the warehouse is privileges, not settings: the role can connect to the warehouse database, use
the ``analytics`` schema and SELECT its views and materialized views (including ones created later, by
default privileges) and holds nothing else. Its session defaults (read-only transactions, a statement
timeout, an idle-in-transaction timeout) guard against accidents, not against the analyst, who may
``SET`` them per session or even ``ALTER ROLE`` their own defaults and password (PostgreSQL allows any
role that); :func:`ensure_analyst_role` puts all of it back each time setup runs it.

:func:`ensure_analyst_role` is idempotent and must be re-run whenever the analytics schema is rebuilt:
dropping the schema drops its grants and default privileges with it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from anime_dashboard.settings import PREFIX
from anime_dashboard.warehouse.db import query

DEFAULT_ROLE = "analyst"
DEFAULT_STATEMENT_TIMEOUT = "60s"
DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT = "5min"
DEFAULT_CONNECTION_LIMIT = 20

# lower-case, unquoted-safe, within NAMEDATALEN; pg_* and a few keywords are reserved by PostgreSQL
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED = {"public", "none", "current_user", "current_role", "session_user", "user", "all"}
# a positive duration in a unit PostgreSQL accepts for time settings (no unit: milliseconds)
_DURATION = re.compile(r"\s*(\d+)\s*(us|ms|s|min|h|d)?\s*")
SCRAM_ITERATIONS = 4096  # PostgreSQL's default


class RoleError(RuntimeError):
    pass


@dataclass(frozen=True)
class AnalystSettings(Mapping):
    """The keyword arguments of :func:`ensure_analyst_role`: ``s.role`` or ``s["role"]``, and
    ``ensure_analyst_role(conn, **s)``. The password stays out of its repr (and so out of logs)."""

    role: str
    password: str = field(repr=False)
    statement_timeout: str

    def __getitem__(self, key: str) -> str:
        if key not in _SETTINGS_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(_SETTINGS_KEYS)

    def __len__(self) -> int:
        return len(_SETTINGS_KEYS)


_SETTINGS_KEYS = ("role", "password", "statement_timeout")


def analyst_settings() -> AnalystSettings:
    """``ANIME_DASHBOARD_ANALYST_USER`` / ``_PASSWORD`` / ``_STATEMENT_TIMEOUT``, read now."""
    role = os.environ.get(PREFIX + "ANALYST_USER") or DEFAULT_ROLE
    password = os.environ.get(PREFIX + "ANALYST_PASSWORD") or ""
    if not password:
        raise RoleError(
            f"{PREFIX}ANALYST_PASSWORD is not set: set it in the environment, or let `make run` generate "
            "one into the git-ignored .env at the project root")
    timeout = os.environ.get(PREFIX + "ANALYST_STATEMENT_TIMEOUT") or DEFAULT_STATEMENT_TIMEOUT
    _check_role_name(role)
    _check_password(password)
    _check_duration(f"{PREFIX}ANALYST_STATEMENT_TIMEOUT", timeout)
    return AnalystSettings(role=role, password=password, statement_timeout=timeout.strip())


def _check_role_name(role: str) -> None:
    if not isinstance(role, str) or not _ROLE_NAME.fullmatch(role) or role.startswith("pg_") or role in _RESERVED:
        raise RoleError(f"analyst role name {role!r} is not allowed: use lower-case letters, digits and _ "
                        "(at most 63, not starting with a digit or pg_)")


def _check_password(password: str) -> None:
    if not password:
        raise RoleError(f"the analyst password is empty: set {PREFIX}ANALYST_PASSWORD (or let `make run` "
                        "generate one into the git-ignored .env)")
    if not all(" " <= ch <= "~" for ch in password):
        # printable ASCII is what SASLprep leaves unchanged, so the verifier below is what the server computes
        raise RoleError(f"{PREFIX}ANALYST_PASSWORD must be printable ASCII (letters, digits, punctuation, space)")


def _check_duration(what: str, value: str) -> None:
    m = _DURATION.fullmatch(value or "")
    if not m or int(m.group(1)) == 0:
        raise RoleError(f"{what}={value!r} is not a positive duration such as 60s, 500ms, 5min")


def scram_sha_256_verifier(password: str, *, salt: bytes | None = None,
                           iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677, as in pg_authid).

    Passing this to ``ALTER ROLE ... PASSWORD`` instead of the password keeps the password itself out of
    the statement, hence out of server logs and pg_stat_statements. ``password`` must be printable
    ASCII (for which SASLprep, applied by the server, changes nothing).
    """
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def verifier_matches(verifier: str | None, password: str) -> bool:
    """Whether a stored SCRAM-SHA-256 verifier (``pg_authid.rolpassword``) is one for ``password``."""
    m = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", verifier or "")
    if not m:
        return False
    try:
        salt = base64.b64decode(m.group(2), validate=True)
    except ValueError:
        return False
    again = scram_sha_256_verifier(password, salt=salt, iterations=int(m.group(1)))
    return hmac.compare_digest(again, verifier)


def ensure_analyst_role(conn, *, role: str, password: str, statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT,
                        idle_in_transaction_timeout: str = DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT,
                        connection_limit: int = DEFAULT_CONNECTION_LIMIT) -> None:
    """Create or update the analyst login role on a psycopg2 connection to the warehouse database.

    One transaction (committed on success, under the migrations' advisory lock): the role with its
    attributes, password and session defaults; CONNECT on this database; USAGE on ``analytics`` and
    SELECT on everything in it, now and (default privileges of the current user) later; every other
    privilege of the role revoked; TEMPORARY on the database and CREATE on schema ``public`` revoked
    from PUBLIC. Then it checks the result as PostgreSQL sees it (PUBLIC's privileges included) and
    raises :class:`RoleError`, committing nothing, if the role could do anything more. Idempotent;
    re-run it after every rebuild of the analytics schema.
    """
    from psycopg2 import sql

    _check_role_name(role)
    _check_password(password)
    _check_duration("statement_timeout", statement_timeout)
    _check_duration("idle_in_transaction_timeout", idle_in_transaction_timeout)
    if not isinstance(connection_limit, int) or isinstance(connection_limit, bool) or connection_limit < 1:
        raise RoleError(f"connection_limit must be a positive integer, not {connection_limit!r}")

    autocommit = conn.autocommit
    if autocommit:  # one transaction (psycopg2 refuses to change this inside one, even to the same value)
        conn.autocommit = False
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query("migration_lock"))  # not while migrations or an analytics rebuild run
            cur.execute(query("analyst_role_state"), {"role": role})
            (database, has_analytics, exists, is_super, is_this_session, owns_objects) = cur.fetchone()
            if not has_analytics:
                raise RoleError(f"database {database!r} has no analytics schema: apply the migrations first")
            if exists and (is_super or is_this_session or owns_objects):
                why = ("is a superuser" if is_super else "is the role running setup" if is_this_session
                       else "owns objects")
                raise RoleError(f"refusing to turn role {role!r} into the read-only analyst role: it {why}; "
                                f"choose another {PREFIX}ANALYST_USER")
            names = {"role": sql.Identifier(role), "role_name": sql.Literal(role),
                     "database": sql.Identifier(database)}
            cur.execute(sql.SQL(query("analyst_role_create")).format(
                password=sql.Literal(scram_sha_256_verifier(password)),
                statement_timeout=sql.Literal(statement_timeout.strip()),
                idle_timeout=sql.Literal(idle_in_transaction_timeout.strip()),
                connection_limit=sql.Literal(connection_limit), **names))
            cur.execute(sql.SQL(query("analyst_role_grants")).format(**names))
            cur.execute(query("analyst_role_problems"), {"role": role})
            problems = [row[0] for row in cur.fetchall()]
            if problems:
                raise RoleError(f"analyst role {role!r} would not be read-only on analytics alone (nothing "
                                f"was changed): " + "; ".join(problems))
    finally:
        if autocommit:
            conn.autocommit = True


def analyst_role_problems(conn, role: str) -> list[str]:
    """What ``role`` could do in this database beyond reading ``analytics`` (empty: nothing)."""
    _check_role_name(role)
    with conn.cursor() as cur:
        cur.execute(query("analyst_role_problems"), {"role": role})
        return [row[0] for row in cur.fetchall()]


def drop_analyst_role(conn, role: str) -> bool:
    """Revoke everything the role holds in this database and drop it. False if there was no such role.

    Roles are cluster-wide: a role still granted something in another database cannot be dropped until
    this has run there too (psycopg2.errors.DependentObjectsStillExist).
    """
    from psycopg2 import sql

    _check_role_name(role)
    autocommit = conn.autocommit
    if autocommit:  # one transaction (psycopg2 refuses to change this inside one, even to the same value)
        conn.autocommit = False
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query("analyst_role_state"), {"role": role})
            _, _, exists, is_super, is_this_session, owns_objects = cur.fetchone()
            if not exists:
                return False
            if is_super or is_this_session or owns_objects:  # DROP OWNED would drop what it owns
                raise RoleError(f"refusing to drop role {role!r}: it is a superuser, runs this session or "
                                "owns objects, so it is not an analyst role")
            cur.execute(sql.SQL(query("analyst_role_drop")).format(role=sql.Identifier(role)))
            return True
    finally:
        if autocommit:
            conn.autocommit = True
