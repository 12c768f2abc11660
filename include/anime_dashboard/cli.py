"""``anime-dashboard``: the setup steps the README's main job runs (and the tests reuse).

    anime-dashboard check [--jikan]  prerequisites reachable? (Python, PostgreSQL, Redis; --jikan: one request
                                     to the configured Jikan) - says what to start or set
    anime-dashboard daily-run        the four snapshot DAGs through the running scheduler, with progress, then
                                     the analytics_refresh run they trigger (anime_dashboard.daily_run)
    anime-dashboard setup            warehouse database + migrations + analytics views, the read-only
                                     analyst role, Airflow pool ``jikan_api`` (1 slot)
    anime-dashboard summary          rows per snapshot type and date, and the last run's metrics
    anime-dashboard dag-ids          the snapshot DAG ids, one a line (for scripts)
    anime-dashboard history ...      write synthetic history (see ``anime-dashboard history --help``)
    anime-dashboard local-servers ...  project-local PostgreSQL and Redis where none runs, until stopped
                                       (anime_dashboard.local_servers; ``--help``)
    anime-dashboard data-dictionary  the analytics data dictionary as Markdown (docs/data_dictionary.md)
    anime-dashboard airflow-users    the Airflow UI's logins (admin, viewer, engineer) as FAB users in Airflow's
                                     metadata database, passwords from ANIME_DASHBOARD_AIRFLOW_*_PASSWORD
    anime-dashboard superset-bootstrap  Superset's metadata DB, admin user (password from the env), init, the roles
                                        of superset/roles/, the analyst's and the pipeline's logins
    anime-dashboard superset-serve      serve Superset (gunicorn) on ANIME_DASHBOARD_SUPERSET_HOST/_PORT
    anime-dashboard superset-worker     Superset's Celery worker for async SQL Lab (docker-compose)
    anime-dashboard superset-import     import superset/assets (databases, datasets, charts, dashboards as the
                                        admin; SQL Lab's saved queries as the analyst); creates or updates in
                                        place, idempotent
    anime-dashboard superset-refresh-cache  invalidate and re-warm the dashboards' chart caches (as the service login)
    anime-dashboard backup | backups | verify [BACKUP] | restore [BACKUP] [--superset] [--airflow] [--force]
                                        take a backup now, list them, verify one, restore one
                                        (anime_dashboard.backups.commands; ANIME_DASHBOARD_BACKUP_URL)
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from urllib.parse import urlparse

from anime_dashboard.jikan.rate_limit import redact
from anime_dashboard.settings import DEFAULT_REDIS_URL, JIKAN_POOL
from anime_dashboard.warehouse.db import connect, query
from anime_dashboard.warehouse.setup import SetupError, setup_warehouse

log = logging.getLogger("anime_dashboard")

POOL_DESCRIPTION = "Jikan API: one request at a time across all DAGs and workers (3/s, 60/min limit)"


def check_prerequisites() -> list[str]:
    """Problems found, each saying what to start or set. Empty when all is well."""
    problems = []
    if sys.version_info < (3, 11):
        problems.append(f"Python 3.11+ is needed, this is {sys.version.split()[0]}")
    if not os.environ.get("AIRFLOW_CONN_WAREHOUSE"):
        problems.append("AIRFLOW_CONN_WAREHOUSE is not set (e.g. postgresql://postgres@127.0.0.1:5432/anime_dashboard)")
    else:
        where = redact(os.environ["AIRFLOW_CONN_WAREHOUSE"])
        try:
            with connect(database="postgres", connect_timeout=5) as conn, conn.cursor() as cur:
                cur.execute(query("server_version"))
                version = int(cur.fetchone()[0])
            if version < 140000:
                problems.append(f"PostgreSQL 14+ is needed, the server at {where} runs {version // 10000}")
        except Exception as exc:  # noqa: BLE001 - any failure here means "start PostgreSQL"
            problems.append(f"the warehouse does not answer at {where} (AIRFLOW_CONN_WAREHOUSE): "
                            f"{str(exc).strip().splitlines()[0]}; start that server or fix the URL, or unset it "
                            "to use 127.0.0.1:5432 or a project-local server (ANIME_DASHBOARD_LOCAL_SERVERS)")
    redis_url = os.environ.get("ANIME_DASHBOARD_REDIS_URL") or DEFAULT_REDIS_URL
    parts = urlparse(redis_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=3) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                raise OSError("no PONG")
    except OSError as exc:
        problems.append(f"Redis does not answer at {redact(redis_url)} (ANIME_DASHBOARD_REDIS_URL): {exc}; start "
                        "that server or fix the URL, or unset it to use 127.0.0.1:6379 or a project-local server "
                        "(ANIME_DASHBOARD_LOCAL_SERVERS)")
    return problems


def ensure_pool(slots: int = 1) -> None:
    """Create or update the Airflow pool every Jikan call runs in (needs Airflow's metadata DB)."""
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(JIKAN_POOL, slots, POOL_DESCRIPTION, include_deferred=False)


def setup() -> None:
    problems = check_prerequisites()
    if problems:
        raise SetupError("cannot set up:\n  - " + "\n  - ".join(problems))
    setup_warehouse()
    ensure_pool()
    log.info("Airflow pool %s has 1 slot", JIKAN_POOL)


def summary() -> str:
    with connect() as conn, conn.cursor() as cur:
        cur.execute(query("summary_by_snapshot"))
        rows = cur.fetchall()
    lines = [f"{'snapshot':<10} {'date':<10} {'rows':>5} {'pages':>5} {'requests':>8} {'inserted':>8} "
             f"{'updated':>7} {'rejected':>8}"]
    for r in rows:
        r = ["-" if v is None else v for v in r]
        lines.append(f"{r[0]:<10} {str(r[1]):<10} {r[2]:>5} {r[3]:>5} {r[4]:>8} {r[5]:>8} {r[6]:>7} {r[7]:>8}")
    with connect() as conn, conn.cursor() as cur:
        cur.execute(query("summary_analytics"))
        stats = cur.fetchall()
    lines += ["", "analytics.database_stats (what analysts see):",
              f"{'snapshot':<10} {'snapshots':>9} {'synthetic':>9} {'first':<10} {'last':<10} {'rows':>8} {'titles':>6}"]
    for r in stats:
        lines.append(f"{r[0]:<10} {r[1]:>9} {r[2]:>9} {str(r[3]):<10} {str(r[4]):<10} {r[5]:>8} {r[6]:>6}")
    return "\n".join(lines)


def superset_command(command: str) -> int:
    """The superset-* commands (Superset runs from its own virtualenv; see anime_dashboard.dashboards)."""
    from anime_dashboard.dashboards import server
    from anime_dashboard.dashboards.assets import AssetError
    from anime_dashboard.dashboards.client import SupersetClient, SupersetError
    from anime_dashboard.warehouse.roles import RoleError

    try:
        # the logins each command uses (serving uses none; bootstrap sets all three up)
        s = server.settings(require={"superset-serve": (), "superset-worker": (), "superset-import": ("ADMIN", "ANALYST"),
                                     "superset-refresh-cache": ("SERVICE",)}.get(command, tuple(server.LOGINS)))
        if command == "superset-bootstrap":
            for line in server.bootstrap(s):
                log.info("Superset: %s", line)
            return 0
        if command in ("superset-serve", "superset-worker"):
            argv = server.serve_command(s) if command == "superset-serve" else server.worker_command(s)
            os.execvpe(argv[0], argv, server.superset_env(s))
        if command == "superset-import":
            from anime_dashboard.dashboards.assets import build_bundle, saved_queries_bundle, warehouse_from_env

            warehouse = warehouse_from_env()
            client = SupersetClient(s.url, s.admin_user, s.admin_password)
            bundle, passwords = build_bundle(warehouse)
            client.import_assets(bundle, passwords)
            counts = {r: len(client.list_all(r, ["id"])) for r in ("database", "dataset", "chart", "dashboard")}
            analyst = SupersetClient(s.url, s.analyst_user, s.analyst_password)
            analyst.import_saved_queries(saved_queries_bundle(warehouse))
            saved = sorted(analyst.list_all("saved_query", ["id", "label", "sql", "database.id", "schema"]),
                           key=lambda q: q["label"])
            counts["saved querie"] = len(saved)
            if saved and analyst.open_sql_lab_tab(saved[0]["database"]["id"], saved[0]["schema"], saved[0]):
                log.info("SQL Lab: %s's first tab opens %r on the warehouse", s.analyst_user, saved[0]["label"])
            log.info("Superset assets imported into %s: %s (the saved queries as %s)", s.url,
                     ", ".join(f"{n} {r}s" for r, n in counts.items()), s.analyst_user)
            return 0
        if command == "superset-refresh-cache":
            from anime_dashboard.dashboards.cache import refresh_caches

            log.info("Superset caches: %s", refresh_caches(SupersetClient(s.url, s.service_user, s.service_password)))
            return 0
    except (server.SupersetSetupError, SupersetError, AssetError, RoleError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(command)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["history"]:  # its own options and --help
        from anime_dashboard import history

        return history.main(argv[1:])
    if argv[:1] == ["local-servers"]:  # its own options and --help
        from anime_dashboard import local_servers

        return local_servers.main(argv[1:])
    from anime_dashboard.backups import commands as backup_commands

    if argv[:1] and argv[0] in backup_commands.COMMANDS:  # their own options and --help
        return backup_commands.main(argv)
    parser = argparse.ArgumentParser(prog="anime-dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "setup", "airflow-users", "summary", "dag-ids", "history",
                                            "daily-run",
                                            "data-dictionary", "superset-bootstrap", "superset-serve", "superset-worker",
                                            "superset-import", "superset-refresh-cache"])
    parser.add_argument("--jikan", action="store_true",
                        help="check: also one request to the configured Jikan (jikan_default)")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            problems = check_prerequisites()
            if args.jikan and not problems:
                from anime_dashboard.jikan.preflight import check_jikan

                problem, seen = check_jikan()
                if problem:
                    problems.append(problem)
                else:
                    print(seen)
            for p in problems:
                print(f"MISSING: {p}", file=sys.stderr)
            if not problems:
                print("prerequisites OK: Python, PostgreSQL, Redis" + (", Jikan" if args.jikan else ""))
            return 1 if problems else 0
        if args.command == "daily-run":
            from anime_dashboard.daily_run import main as daily_run

            return daily_run()
        if args.command == "setup":
            setup()
        elif args.command == "airflow-users":
            from anime_dashboard.airflow_users import AirflowUsersError, logins_from_env, sync_users

            try:
                changed = sync_users()
            except AirflowUsersError as exc:
                raise SetupError(str(exc)) from exc
            log.info("Airflow logins %s as in the environment%s",
                     ", ".join(f"{login.user} ({login.role})" for login in logins_from_env()),
                     "".join(f"\n  {line}" for line in changed))
        elif args.command == "summary":
            print(summary())
        elif args.command == "data-dictionary":
            from anime_dashboard.data_dictionary import read_views, render_markdown

            with connect() as conn:
                sys.stdout.write(render_markdown(read_views(conn)))
        elif args.command.startswith("superset-"):
            return superset_command(args.command)
        elif args.command == "dag-ids":
            from anime_dashboard.snapshots import SNAPSHOT_TYPES

            print("\n".join(s.dag_id for s in SNAPSHOT_TYPES))
        return 0
    except SetupError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
