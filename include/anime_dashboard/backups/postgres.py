"""PostgreSQL databases in a backup: ``pg_dump --format=custom`` of the server's own major version, checked
and restored with ``pg_restore`` and ``psql`` of the same major.

* :func:`dump` exports a snapshot in a REPEATABLE READ transaction and runs ``pg_dump --snapshot`` on it, while
  the same transaction counts every table and checksums the snapshot tables: the manifest describes exactly
  the rows in the dump, whatever loads run meanwhile.
* :func:`restore` empties the target of its own objects and replays the dump in **one transaction**
  (``pg_restore`` writes the script, ``psql`` runs it; COMMIT is sent only after ``pg_restore`` succeeded): a
  restore that fails for any reason leaves the target as it was.
* :func:`facts_after_restore` restores a dump into a scratch database that way and reads the same facts from
  it, then drops it: what verification compares with the manifest.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from anime_dashboard.backups.databases import BackupError, Database, sql
from anime_dashboard.settings import PREFIX

# tables whose rows exist nowhere else: checksummed in every warehouse backup and compared after a restore
SNAPSHOT_TABLES = ("raw.extract_batches", "raw.jikan_pages", "core.list_definitions", "core.snapshots",
                   "core.anime_snapshots")
LOCK_WAIT = "5min"  # pg_dump waits this long for a table's lock (a schema change under way), then fails
CHUNK = 1 << 20


def major_of(version_num: int) -> int:
    return version_num // 10000


def _tool_major(path: Path) -> int | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    found = re.search(r"\(PostgreSQL\) (\d+)", out)
    return int(found.group(1)) if found else None


def tool(name: str, major: int) -> str:
    """The path of ``pg_dump``/``pg_restore``/``psql`` of PostgreSQL ``major``: in ``ANIME_DASHBOARD_PG_BIN``,
    Debian's ``/usr/lib/postgresql/<major>/bin``, or on PATH."""
    candidates = [Path(os.environ[PREFIX + "PG_BIN"]) / name] if os.environ.get(PREFIX + "PG_BIN") else []
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin/{name}"))
    if shutil.which(name):
        candidates.append(Path(shutil.which(name)))
    seen = []
    for path in candidates:
        if path.is_file():
            found = _tool_major(path)
            if found == major:
                return str(path)
            seen.append(f"{path} is {found}")
    raise BackupError(f"{name} of PostgreSQL {major} (the server's version) is needed and was not found"
                      f"{' (' + '; '.join(seen) + ')' if seen else ''}: install postgresql-client-{major}, or set "
                      f"{PREFIX}PG_BIN to the folder that holds it")


def _conninfo(params: dict) -> str:
    from psycopg2.extensions import make_dsn

    return make_dsn(**{k: v for k, v in params.items() if k != "password"})


def _env(params: dict) -> dict:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if params.get("password"):
        env["PGPASSWORD"] = str(params["password"])
    return env


def _connect(params: dict):
    import psycopg2

    try:
        return psycopg2.connect(**{"connect_timeout": 10, **params})
    except psycopg2.OperationalError as exc:
        raise BackupError(f"cannot connect to {_where(params)}: {str(exc).strip()}") from exc


def _where(params: dict) -> str:
    return f"postgresql://{params.get('user', '')}@{params.get('host', '')}:{params.get('port', 5432)}/" \
           f"{params.get('dbname', '')}"


def read_facts(cur, role: str) -> dict:
    """What the manifest records of a database, read in the caller's transaction: rows per table, migrations,
    and for the warehouse the snapshot tables' checksums and the snapshots it holds."""
    from psycopg2 import sql as pgsql

    cur.execute(sql("checksum_session"))
    cur.execute(sql("user_tables"))
    tables = cur.fetchall()
    counts = {}
    for schema, name in tables:
        cur.execute(pgsql.SQL("SELECT count(*) FROM {}").format(pgsql.Identifier(schema, name)))
        counts[f"{schema}.{name}"] = cur.fetchone()[0]
    facts: dict = {"row_counts": counts, "migrations": _migrations(cur)}
    if role == "warehouse":
        checksums = {}
        for table in SNAPSHOT_TABLES:
            if table in counts:
                cur.execute(pgsql.SQL(sql("table_checksum")).format(table=pgsql.Identifier(*table.split("."))))
                rows, total = cur.fetchone()
                checksums[table] = {"rows": rows, "sum": total}
        facts["checksums"] = checksums
        cur.execute(sql("snapshot_dates"))
        facts["snapshots"] = snapshot_ranges(cur.fetchall())
    return facts


def _migrations(cur) -> list[str]:
    for table, query in (("public.schema_migrations", "schema_migrations"), ("public.alembic_version",
                                                                              "alembic_version")):
        cur.execute(sql("relation_exists"), {"name": table})
        if cur.fetchone()[0]:
            cur.execute(sql(query))
            return [r[0] for r in cur.fetchall()]
    return []


def snapshot_ranges(rows) -> dict[str, list[list[str]]]:
    """{type: [[first, last], ...]}: runs of consecutive dates, from (type, 'YYYY-MM-DD') rows in order."""
    from datetime import date, timedelta

    ranges: dict[str, list[list[str]]] = {}
    for kind, day in rows:
        runs = ranges.setdefault(kind, [])
        if runs and date.fromisoformat(runs[-1][1]) + timedelta(days=1) == date.fromisoformat(day):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return ranges


def server_version(params: dict) -> tuple[str, int]:
    conn = _connect(params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('server_version'), current_setting('server_version_num')::int")
            return cur.fetchone()
    finally:
        conn.close()


def dump(db: Database, path: Path) -> dict:
    """``pg_dump --format=custom`` of ``db`` into ``path``; the facts of exactly what it holds."""
    import psycopg2.extensions

    conn = _connect(db.params)
    try:
        conn.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot(), current_setting('server_version'), "
                        "current_setting('server_version_num')::int")
            snapshot, version, version_num = cur.fetchone()
            pg_dump = tool("pg_dump", major_of(version_num))
            with tempfile.TemporaryFile() as err:
                proc = subprocess.Popen(
                    [pg_dump, "--format=custom", f"--file={path}", f"--snapshot={snapshot}", "--no-password",
                     f"--lock-wait-timeout={LOCK_WAIT}", f"--dbname={_conninfo(db.params)}"],
                    env=_env(db.params), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
                try:
                    facts = read_facts(cur, db.role)  # beside pg_dump, in the snapshot it dumps
                except BaseException:
                    proc.kill()
                    raise
                finally:
                    proc.wait()
                message = _tail(err)
        conn.rollback()  # the snapshot is kept until pg_dump has finished with it
    finally:
        conn.close()
    if proc.returncode != 0:
        raise BackupError(f"pg_dump of {db.where()} into {path.parent} exited {proc.returncode}: {message}")
    return {"engine": "postgresql", "server_version": version, "dump_tool": _tool_version(pg_dump),
            "database": db.params.get("dbname"), **facts}


def _tail(file, limit: int = 2000) -> str:
    file.seek(0)
    return file.read().decode(errors="replace").strip()[-limit:]


def _tool_version(path: str) -> str:
    return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()


def create_database_if_missing(db: Database) -> bool:
    """Create ``db``'s database (connecting to the server's ``postgres`` database). True if created."""
    from psycopg2 import sql as pgsql

    name = db.params["dbname"]
    conn = _connect({**db.params, "dbname": "postgres"})
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
            return True
    finally:
        conn.close()


def restore(db: Database, path: Path, dump_major: int | None = None) -> None:
    """The dump in ``path`` replaces everything of ``db``'s own, in one transaction (objects owned by the
    login restoring them; grants are the setup's to make)."""
    _, version_num = server_version(db.params)
    major = major_of(version_num)
    if dump_major and dump_major > major:
        raise BackupError(f"a dump of PostgreSQL {dump_major} cannot be restored into {_where(db.params)}, "
                          f"which runs PostgreSQL {major}")
    psql_tool, pg_restore_tool = tool("psql", major), tool("pg_restore", major)
    with tempfile.TemporaryFile() as psql_err, tempfile.TemporaryFile() as restore_err:
        psql = subprocess.Popen(
            [psql_tool, "--no-psqlrc", "--quiet", "--no-password", "-v", "ON_ERROR_STOP=1",
             f"--dbname={_conninfo(db.params)}"],
            env=_env(db.params), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err)
        pg_restore = None
        committed = False
        try:
            psql.stdin.write(b"SET client_min_messages = warning;\nBEGIN;\n" + sql("drop_own_objects").encode()
                             + b"\n\\gexec\n")
            pg_restore = subprocess.Popen(
                [pg_restore_tool, "--no-owner", "--no-privileges", "--file=-", str(path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=restore_err)
            shutil.copyfileobj(pg_restore.stdout, psql.stdin, CHUNK)
            if pg_restore.wait() == 0:
                psql.stdin.write(b"COMMIT;\n")
                committed = True
        except BrokenPipeError:  # psql stopped at an error: it says which below
            pass
        finally:
            if pg_restore is not None and pg_restore.poll() is None:
                pg_restore.kill()
                pg_restore.wait()
            try:
                psql.stdin.close()  # without a COMMIT the server rolls the transaction back
            except BrokenPipeError:
                pass
            psql.wait()
        if pg_restore is not None and pg_restore.returncode != 0:
            raise BackupError(f"pg_restore of {path} failed ({_tail(restore_err)}); {_where(db.params)} is "
                              "unchanged")
        if psql.returncode != 0 or not committed:
            raise BackupError(f"restoring {path} into {_where(db.params)} failed ({_tail(psql_err)}); it is "
                              "unchanged")


def facts_after_restore(db: Database, path: Path, scratch: str, dump_major: int | None = None) -> dict:
    """Restore the dump into the scratch database ``scratch`` on ``db``'s server (created here, dropped
    after), exactly as :func:`restore` restores, and read its facts."""
    import psycopg2.extensions
    from psycopg2 import sql as pgsql

    target = Database(db.role, "postgresql", {**db.params, "dbname": scratch})
    admin = _connect(db.params)
    admin.autocommit = True
    # a plain DROP: our own sessions are closed by then, and it stops an autovacuum worker busy in the restored
    # database itself, where WITH (FORCE) refuses a login that is not a superuser ("must be a member of the role
    # whose process is being terminated")
    drop = pgsql.SQL("DROP DATABASE IF EXISTS {}").format(pgsql.Identifier(scratch))
    try:
        with admin.cursor() as cur:
            cur.execute(drop)
            try:
                cur.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(scratch)))
            except psycopg2.Error as exc:
                raise BackupError(f"cannot create the scratch database {scratch} on {_where(db.params)} to "
                                  f"verify a backup: {str(exc).strip()} (the login needs CREATEDB)") from exc
        try:
            restore(target, path, dump_major)
            conn = _connect(target.params)
            try:
                conn.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ,
                                 readonly=True)
                with conn.cursor() as cur:
                    return read_facts(cur, db.role)
            finally:
                conn.close()
        finally:
            with admin.cursor() as cur:
                cur.execute(drop)
    finally:
        admin.close()
