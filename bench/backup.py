"""Benchmark: backup, verification and restore of the warehouse at 30 days, 1 year and 3 years of history.

    python -m bench.backup            # 30, 365 and 1095 days of ~1,000 titles per type a day; docs/benchmarks.md
    python -m bench.backup --smoke    # 5 and 10 days, small lists: checks the script works

For each size: a scratch database on the warehouse's server with that much synthetic history (the history
generator, as bench/daily_cost.py builds it), then the project's own code, as the warehouse_backup DAG and
`anime-dashboard restore` run it: a backup (pg_dump --format=custom in one snapshot, with the manifest's counts
and checksums read beside it), its verification (restored into a scratch database and compared with the
manifest), and the restore of it with the warehouse's setup after it, twice: into a database that does not
exist (a lost volume) and over the database it was taken from (a day overwritten by mistake).
Goals on this machine: backup plus verification of 3 years within 10 minutes, restore within 15 minutes.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone

from bench.daily_cost import build
from bench.report import machine_line, write_section
from testkit.warehouse import admin, scratch_database, server_params

SECTION = "backups"
GOALS = {"backup_and_verify_s": 600, "restore_s": 900}


def timed(step):
    t0 = time.perf_counter()
    result = step()
    return result, time.perf_counter() - t0


def configure_warehouse(dbname: str) -> None:
    """AIRFLOW_CONN_WAREHOUSE at ``dbname`` on the warehouse's server: what the code backs up and restores into."""
    p = server_params()
    auth = f"{p['user']}{':' + p['password'] if p.get('password') else ''}"
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = f"postgresql://{auth}@{p['host']}:{p['port']}/{dbname}"


def restore_into(location, backup_id: str, dbname: str) -> float:
    """Seconds of `anime-dashboard restore` (the restore and the warehouse's setup) into ``dbname``."""
    from anime_dashboard.backups.restore import restore_backup, set_up_again

    configure_warehouse(dbname)
    quiet = lambda _: None  # noqa: E731
    _, seconds = timed(lambda: (restore_backup(location, backup_id, out=quiet), set_up_again(location, out=quiet)))
    return seconds


def measure(days: int, list_size: int, end) -> dict:
    from anime_dashboard.backups.databases import warehouse
    from anime_dashboard.backups.location import BackupLocation
    from anime_dashboard.backups.take import size_of, take_backup
    from anime_dashboard.backups.verify import verify_backup

    with scratch_database("ad_bench") as (name, conn), tempfile.TemporaryDirectory(prefix="ad_bench_backups_") as folder:
        print(f"[{days} days] generating history, {list_size} titles x 4 types a day ...", flush=True)
        built = build(conn, days, list_size, end)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            db_bytes = cur.fetchone()[0]
        conn.commit()
        location = BackupLocation(folder)
        configure_warehouse(name)
        manifest, backup_s = timed(lambda: take_backup(location, [warehouse()]))
        _, verify_s = timed(lambda: verify_backup(location, manifest["backup_id"]))
        fresh = f"ad_bench_restore_{uuid.uuid4().hex[:8]}"
        try:
            new_s = restore_into(location, manifest["backup_id"], fresh)
        finally:
            admin(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
        over_s = restore_into(location, manifest["backup_id"], name)
        result = {"days": days, "rows": built["rows"], "db_bytes": db_bytes, "dump_bytes": size_of(manifest),
                  "backup_s": backup_s, "verify_s": verify_s, "restore_new_s": new_s, "restore_over_s": over_s}
    print(f"[{days} days] {result['rows']:,} rows, {db_bytes / 1e6:,.0f} MB: backup {backup_s:.1f} s "
          f"({result['dump_bytes'] / 1e6:,.1f} MB), verify {verify_s:.1f} s, restore {new_s:.1f} s into a new "
          f"database, {over_s:.1f} s over the old one", flush=True)
    return result


def report(results: list[dict], list_size: int) -> str:
    lines = ["## Backup, verification and restore against the history", "", machine_line(), "",
             f"`python -m bench.backup`: synthetic history of {list_size:,} titles per type per day in a scratch "
             "database, then the warehouse_backup DAG's own steps: the backup (`pg_dump --format=custom` in one "
             "snapshot, the manifest's row counts and checksums read in the same snapshot beside it), its "
             "verification (restored into a scratch database the way a restore restores, then compared with the "
             "manifest), and `anime-dashboard restore` with the warehouse's setup after it, into a database that "
             "does not exist (a lost volume) and over the one it was taken from (a day overwritten). One run of "
             "each.", "",
             "| history | snapshot rows | database | backup | archive | verification | backup + verification | "
             "restore into a new database | restore over the old one |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['days']:,} days | {r['rows']:,} | {r['db_bytes'] / 1e6:,.0f} MB | {r['backup_s']:.1f} s | "
                     f"{r['dump_bytes'] / 1e6:,.1f} MB | {r['verify_s']:.1f} s | "
                     f"**{r['backup_s'] + r['verify_s']:.1f} s** | **{r['restore_new_s']:.1f} s** | "
                     f"{r['restore_over_s']:.1f} s |")
    large = results[-1]
    both = large["backup_s"] + large["verify_s"]
    restore = max(large["restore_new_s"], large["restore_over_s"])
    lines += ["", f"At {large['days']:,} days: backup + verification **{both:.0f} s** (goal <= "
              f"{GOALS['backup_and_verify_s']} s: {'meets' if both <= GOALS['backup_and_verify_s'] else 'misses'} "
              f"it), restore **{restore:.0f} s** (goal <= {GOALS['restore_s']} s: "
              f"{'meets' if restore <= GOALS['restore_s'] else 'misses'} it); {large['days']:,} days / "
              f"{results[0]['days']:,} days: backup {large['backup_s'] / results[0]['backup_s']:.1f}x, archive "
              f"{large['dump_bytes'] / results[0]['dump_bytes']:.1f}x."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30,365,1095", help="days of history, comma-separated")
    parser.add_argument("--list-size", type=int, default=1000, help="titles per snapshot type per day")
    parser.add_argument("--smoke", action="store_true", help="5 and 10 days, 50 titles a list; no report")
    args = parser.parse_args(argv)
    sizes = [5, 10] if args.smoke else [int(x) for x in args.sizes.split(",")]
    list_size = 50 if args.smoke else args.list_size
    end = datetime.now(timezone.utc).date() - timedelta(days=1)
    role = f"ad_bench_analyst_{uuid.uuid4().hex[:8]}"  # the restore's setup makes the analyst role: one of its own
    os.environ.update({"ANIME_DASHBOARD_ANALYST_USER": role,
                       "ANIME_DASHBOARD_ANALYST_PASSWORD": secrets.token_urlsafe(16)})
    os.environ.pop("AIRFLOW_CONN_SUPERSET", None)
    try:
        results = [measure(size, list_size, end) for size in sizes]
    finally:
        admin(f'DROP ROLE IF EXISTS "{role}"')
    body = report(results, list_size)
    print(body)
    if not args.smoke:
        write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
