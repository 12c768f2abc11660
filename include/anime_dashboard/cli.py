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
import json
import logging
import os
import socket
import sys
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlparse

from anime_dashboard.jikan.rate_limit import redact
from anime_dashboard.settings import DEFAULT_REDIS_URL, JIKAN_POOL
from anime_dashboard.snapshots import SNAPSHOT_TYPES
from anime_dashboard.warehouse.db import connect, query
from anime_dashboard.warehouse.setup import SetupError, setup_warehouse

log = logging.getLogger("anime_dashboard")

POOL_DESCRIPTION = "Jikan API: one request at a time across all DAGs and workers (3/s, 60/min limit)"
SCALE_3Y_DAYS = 1095  # anime-dashboard history --scale-3y: three years ...
SCALE_3Y_LIST_SIZE = 1000  # ... of 1000 titles per type and day


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


# --------------------------------------------------------------------------
# The commands: each takes the parsed arguments and returns the exit code
# --------------------------------------------------------------------------


def check_command(args: argparse.Namespace) -> int:
    """Prerequisites (and with --jikan one request to Jikan): 0 when all answer, else 1 with what is missing."""
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


def daily_run_command(args: argparse.Namespace) -> int:
    from anime_dashboard.daily_run import main as daily_run

    return daily_run()


def setup_command(args: argparse.Namespace) -> int:
    setup()
    return 0


def airflow_users_command(args: argparse.Namespace) -> int:
    from anime_dashboard.airflow_users import AirflowUsersError, logins_from_env, sync_users

    try:
        changed = sync_users()
    except AirflowUsersError as exc:
        raise SetupError(str(exc)) from exc
    log.info("Airflow logins %s as in the environment%s",
             ", ".join(f"{login.user} ({login.role})" for login in logins_from_env()),
             "".join(f"\n  {line}" for line in changed))
    return 0


def summary_command(args: argparse.Namespace) -> int:
    print(summary())
    return 0


def dag_ids_command(args: argparse.Namespace) -> int:
    print("\n".join(s.dag_id for s in SNAPSHOT_TYPES))
    return 0


def data_dictionary_command(args: argparse.Namespace) -> int:
    from anime_dashboard.data_dictionary import read_views, render_markdown

    with connect() as conn:
        sys.stdout.write(render_markdown(read_views(conn)))
    return 0


def history_command(args: argparse.Namespace) -> int:
    """Synthetic history (anime_dashboard.history) for the days and list sizes asked; prints its summary."""
    from anime_dashboard.history import generate_history

    days = args.days if args.days is not None else (SCALE_3Y_DAYS if args.scale_3y else None)
    if days is None:
        args.error("--days is required (or --scale-3y)")
    if days < 1:
        args.error("--days must be at least 1")
    list_sizes = {s.name: SCALE_3Y_LIST_SIZE for s in SNAPSHOT_TYPES} if args.scale_3y else {}
    list_sizes.update(dict(args.list_size))
    end = args.end or datetime.now(timezone.utc).date() - timedelta(days=1)
    with connect() as conn:
        history_summary = generate_history(conn, end_date=end, days=days, list_sizes=list_sizes or None)
    print(json.dumps(history_summary))
    return 0


def local_servers_command(args: argparse.Namespace) -> int:
    from anime_dashboard import local_servers

    return local_servers.run(args)


def backup_command(args: argparse.Namespace) -> int:
    from anime_dashboard.backups import commands as backup_commands

    return backup_commands.run(args)


# --------------------------------------------------------------------------
# The superset-* commands (Superset runs from its own virtualenv; see anime_dashboard.dashboards)
# --------------------------------------------------------------------------

# Superset's REST resources as superset-import counts them, with their names in its log line
IMPORTED_RESOURCES = {"database": "databases", "dataset": "datasets", "chart": "charts", "dashboard": "dashboards"}


def superset_command(args: argparse.Namespace) -> int:
    """Run ``args.superset`` with Superset's settings (needing the logins ``args.logins``; None: all of
    them); 2 when a setting, Superset or a role refuses."""
    from anime_dashboard.dashboards import server
    from anime_dashboard.dashboards.assets import AssetError
    from anime_dashboard.dashboards.client import SupersetError
    from anime_dashboard.warehouse.roles import RoleError

    try:
        logins = tuple(server.LOGINS) if args.logins is None else args.logins
        return args.superset(server.settings(require=logins))
    except (server.SupersetSetupError, SupersetError, AssetError, RoleError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2


def superset_bootstrap(s) -> int:
    from anime_dashboard.dashboards import server

    for line in server.bootstrap(s):
        log.info("Superset: %s", line)
    return 0


def superset_serve(s) -> int:
    """Replaces this process with Superset's web server."""
    from anime_dashboard.dashboards import server

    argv = server.serve_command(s)
    os.execvpe(argv[0], argv, server.superset_env(s))


def superset_worker(s) -> int:
    """Replaces this process with Superset's Celery worker."""
    from anime_dashboard.dashboards import server

    argv = server.worker_command(s)
    os.execvpe(argv[0], argv, server.superset_env(s))


def superset_import(s) -> int:
    """The assets as the admin, the saved queries as the analyst; logs what Superset then holds."""
    from anime_dashboard.dashboards.assets import build_bundle, saved_queries_bundle, warehouse_from_env
    from anime_dashboard.dashboards.client import SupersetClient

    warehouse = warehouse_from_env()
    client = SupersetClient(s.url, s.admin_user, s.admin_password)
    bundle, passwords = build_bundle(warehouse)
    client.import_assets(bundle, passwords)
    counts = {name: len(client.list_all(resource, ["id"])) for resource, name in IMPORTED_RESOURCES.items()}
    analyst = SupersetClient(s.url, s.analyst_user, s.analyst_password)
    analyst.import_saved_queries(saved_queries_bundle(warehouse))
    saved = sorted(analyst.list_all("saved_query", ["id", "label", "sql", "database.id", "schema"]),
                   key=lambda q: q["label"])
    counts["saved queries"] = len(saved)
    if saved and analyst.open_sql_lab_tab(saved[0]["database"]["id"], saved[0]["schema"], saved[0]):
        log.info("SQL Lab: %s's first tab opens %r on the warehouse", s.analyst_user, saved[0]["label"])
    log.info("Superset assets imported into %s: %s (the saved queries as %s)", s.url,
             ", ".join(f"{n} {name}" for name, n in counts.items()), s.analyst_user)
    return 0


def superset_refresh_cache(s) -> int:
    from anime_dashboard.dashboards.cache import refresh_caches
    from anime_dashboard.dashboards.client import SupersetClient

    log.info("Superset caches: %s", refresh_caches(SupersetClient(s.url, s.service_user, s.service_password)))
    return 0


# --------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------


def _list_size(text: str) -> tuple[str, int]:
    """``TYPE=N`` of ``history --list-size``."""
    name, sep, value = text.partition("=")
    if not sep or name not in {s.name for s in SNAPSHOT_TYPES}:
        raise argparse.ArgumentTypeError(
            f"expected TYPE=N with TYPE one of {', '.join(s.name for s in SNAPSHOT_TYPES)}")
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if size < 1:
        raise argparse.ArgumentTypeError("a list size must be at least 1")
    return name, size


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, help="days to write, ending with --end (default with "
                        f"--scale-3y: {SCALE_3Y_DAYS})")
    parser.add_argument("--end", type=date.fromisoformat,
                        help="last day written, YYYY-MM-DD (default: yesterday, UTC)")
    parser.add_argument("--list-size", type=_list_size, action="append", default=[], metavar="TYPE=N",
                        help="titles a day of one type (repeatable; default: as many as the real snapshot it is "
                             "built from)")
    parser.add_argument("--scale-3y", action="store_true",
                        help=f"performance scale: {SCALE_3Y_DAYS} days of {SCALE_3Y_LIST_SIZE} titles per type "
                             "and day (~4.4M rows) unless --days / --list-size say otherwise")
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(error=parser.error)


HISTORY_DESCRIPTION = (
    "Write N days of synthetic snapshots of all four types (labelled synthetic, built backwards from the real "
    "snapshot that follows each day, or from the bundled corpus) into the warehouse (AIRFLOW_CONN_WAREHOUSE). "
    "Real snapshots are skipped; rerunning replaces the synthetic snapshots of the range.")

# superset-* command -> (what it does, the logins it needs: None for all of them, its help)
SUPERSET_COMMANDS = {
    "superset-bootstrap": (superset_bootstrap, None, "Superset's metadata DB, users, roles"),
    "superset-serve": (superset_serve, (), "serve Superset (gunicorn)"),
    "superset-worker": (superset_worker, (), "Superset's Celery worker"),
    "superset-import": (superset_import, ("ADMIN", "ANALYST"), "import superset/assets"),
    "superset-refresh-cache": (superset_refresh_cache, ("SERVICE",), "re-warm the dashboards' chart caches"),
}
BACKUP_HELP = {"backup": "take a backup now", "backups": "list the backups", "verify": "verify a backup",
               "restore": "restore a backup"}


def build_parser() -> argparse.ArgumentParser:
    """``anime-dashboard`` and its subcommands (the module docstring lists them)."""
    from anime_dashboard import local_servers
    from anime_dashboard.backups import commands as backup_commands

    parser = argparse.ArgumentParser(prog="anime-dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(log_level="INFO")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, func, **kwargs) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, **kwargs)
        sub.set_defaults(func=func)
        return sub

    check = command("check", check_command, help="prerequisites reachable?")
    check.add_argument("--jikan", action="store_true", help="also one request to the configured Jikan (jikan_default)")
    command("daily-run", daily_run_command, help="the snapshot DAGs through the running scheduler")
    command("setup", setup_command, help="warehouse, analytics views, analyst role, Airflow pool")
    command("summary", summary_command, help="rows per snapshot type and date, the last run's metrics")
    command("dag-ids", dag_ids_command, help="the snapshot DAG ids, one a line")
    add_history_arguments(command("history", history_command, help="write synthetic history",
                                  description=HISTORY_DESCRIPTION))
    local_servers.add_arguments(command("local-servers", local_servers_command,
                                        help="project-local PostgreSQL and Redis, until stopped",
                                        description=local_servers.__doc__,
                                        formatter_class=argparse.RawDescriptionHelpFormatter))
    command("data-dictionary", data_dictionary_command, help="the analytics data dictionary as Markdown")
    command("airflow-users", airflow_users_command, help="the Airflow UI's logins from the environment")
    for name, (func, logins, text) in SUPERSET_COMMANDS.items():
        command(name, superset_command, help=text).set_defaults(superset=func, logins=logins)
    for name in backup_commands.COMMANDS:
        backup_commands.add_arguments(command(name, backup_command, help=BACKUP_HELP[name],
                                              description=backup_commands.__doc__,
                                              formatter_class=argparse.RawDescriptionHelpFormatter), name)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except SetupError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
