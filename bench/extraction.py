"""Benchmark: the four DAGs' extract tasks against the Jikan replay enforcing Jikan's rate limit.

    python bench/extraction.py                    # limits x10 (30/s, 600/min) for 5 minutes; writes docs/benchmarks.md
    python bench/extraction.py --scale 20 --minutes 3
    python bench/extraction.py --smoke            # x20, one pass of the four types; prints the table only

Jikan allows 3 requests/s and 60 requests/min. The replay (anime_dashboard.jikan.replay) enforces both
windows, multiplied by ``--scale`` so that a run takes minutes rather than hours, and the client is paced
and backs off on the same scaled clock: the production settings (``jikan_settings()`` with no
ANIME_DASHBOARD_JIKAN_* overrides: min_interval 1.0 s, back-off 2 s doubling up to 60 s, timeout 30 s)
divided by the scale; ``--min-interval`` tries another production interval. Every figure is scaled back to
real time (requests per minute / scale) before it is compared with Jikan's 60/min and 3/s.

One pass runs the four snapshot types' extracts one after another, as the one-slot pool ``jikan_api``
does, through the real code path: ``pipeline.extract`` with a new ``JikanClient`` per task, landing pages
in ``raw`` of a scratch warehouse database (migrations applied, dropped at the end). Passes repeat until
``--minutes`` have passed (at least one full 60 s window of the replay's per-minute limit, several by
default).

Measured: achieved requests per minute / the limit (goal >= 0.95), requests per second / 3, pages expected
(page caps and the corpus's has_next_page) vs pages stored in raw.jikan_pages (pages lost: goal 0), 429s
(from the replay's log and from raw.extract_batches.rate_limited), and the replay's max requests in flight
(goal 1). Per pass: median and min-max; whole run: the totals and full 60 s windows. Not a test: the
figures depend on the machine, so they are written down, not asserted.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "include")]

from report import machine_line, write_section  # noqa: E402
from scratch import admin, server_params  # noqa: E402

JIKAN_PER_SECOND = 3
JIKAN_PER_MINUTE = 60
RATIO_GOAL = 0.95
SECTION = "extraction"


# -- set-up --------------------------------------------------------------------------------------





@contextmanager
def scratch_warehouse(keep: bool = False):
    """A new database on the warehouse's server with every migration applied; dropped afterwards."""
    from anime_dashboard.warehouse.migrations import apply_migrations

    name = f"ad_bench_extract_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    conn = None
    try:
        conn = psycopg2.connect(dbname=name, **server_params())
        apply_migrations(conn)
        yield conn
    finally:
        if conn is not None:
            conn.close()
        if not keep:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_settings():
    """The client's production settings: the code defaults, ignoring any ANIME_DASHBOARD_JIKAN_* override
    (the test suite sets some for speed; this benchmark is about production pacing)."""
    from anime_dashboard.settings import PREFIX, jikan_settings

    saved = {k: v for k, v in os.environ.items() if k.startswith(PREFIX + "JIKAN_")}
    for k in saved:
        del os.environ[k]
    try:
        return jikan_settings()
    finally:
        os.environ.update(saved)


def scaled_settings(prod, scale: float, min_interval: float | None = None):
    """Production settings on a clock ``scale`` times faster: every duration divided by the scale."""
    from anime_dashboard.settings import JikanSettings

    return JikanSettings(
        min_interval=(prod.min_interval if min_interval is None else min_interval) / scale,
        max_attempts=prod.max_attempts,
        backoff_base=prod.backoff_base / scale,
        backoff_max=prod.backoff_max / scale,
        timeout=prod.timeout / scale,
    )


def expected_pages(replay, snapshot) -> int:
    """Pages a complete extract gets: follow has_next_page up to the page cap (asked of the replay
    directly, so neither its log nor its rate windows see it)."""
    from anime_dashboard.snapshots import PAGE_SIZE

    pages = 0
    for page in range(1, snapshot.max_pages + 1):
        body = replay.search_anime({**snapshot.params, "page": str(page), "limit": str(PAGE_SIZE)}).payload
        pages += 1
        if not body["pagination"]["has_next_page"] or not body["data"]:
            break
    return pages


# -- running -------------------------------------------------------------------------------------

@dataclass
class Task:
    run: int
    snapshot: str
    begin: float
    end: float = 0.0
    batch_id: int | None = None
    expected: int = 0
    stored: int = 0
    rate_limited: int = 0  # as counted by the client, read back from raw.extract_batches
    retries: int = 0
    error: str | None = None


@dataclass
class Run:
    index: int
    begin: float
    end: float = 0.0
    tasks: list[Task] = field(default_factory=list)


def run_pass(index: int, conn, replay, settings, expected: dict[str, int], max_pages: int | None) -> Run:
    from dataclasses import replace

    from anime_dashboard import pipeline
    from anime_dashboard.jikan.client import JikanClient
    from anime_dashboard.snapshots import SNAPSHOT_TYPES

    today = datetime.now(timezone.utc).date()
    run = Run(index=index, begin=time.time())
    for snapshot in SNAPSHOT_TYPES:
        if max_pages is not None:
            snapshot = replace(snapshot, max_pages=min(snapshot.max_pages, max_pages))
        task = Task(run=index, snapshot=snapshot.name, begin=time.time(), expected=expected[snapshot.name])
        client = JikanClient(settings=settings)  # a new task process gets a new client
        try:
            ref = pipeline.extract(snapshot, conn=conn, dag_id=snapshot.dag_id,
                                   run_id=f"bench_extraction__{index}", snapshot_date=today, client=client)
            task.batch_id = ref["batch_id"]
        except Exception as exc:  # a failed extract lands nothing: all its pages count as lost
            conn.rollback()
            task.error = f"{type(exc).__name__}: {exc}"
            print(f"  pass {index} {snapshot.name}: extract failed: {task.error}", file=sys.stderr)
        task.end = time.time()
        run.tasks.append(task)
    run.end = time.time()
    return run


def read_back(conn, runs: list[Run]) -> None:
    """Pages stored and the client's own 429/retry counters, from raw."""
    with conn.cursor() as cur:
        cur.execute("SELECT b.batch_id, b.rate_limited, b.retries, count(p.page) FROM raw.extract_batches b "
                    "LEFT JOIN raw.jikan_pages p USING (batch_id) GROUP BY b.batch_id")
        rows = {r[0]: r[1:] for r in cur.fetchall()}
    conn.rollback()
    for run in runs:
        for t in run.tasks:
            if t.batch_id is not None:
                t.rate_limited, t.retries, t.stored = rows[t.batch_id]


# -- measuring -----------------------------------------------------------------------------------

def max_in_window(starts: list[float], span: float) -> int:
    """Most request starts in any half-open window of ``span`` seconds (starts sorted)."""
    best, lo = 0, 0
    for hi, t in enumerate(starts):
        while starts[lo] <= t - span:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def analyse(runs: list[Run], log: list[dict], max_in_flight: int, scale: float, settings, prod,
            latency: float) -> dict:
    requests = sorted((e for e in log if e["path"].rstrip("/") == "/v4/anime"), key=lambda e: e["started"])
    ok = [e for e in requests if e["status"] == 200]
    limit_min, limit_s = JIKAN_PER_MINUTE * scale, JIKAN_PER_SECOND * scale

    def in_span(entries, begin, end):
        return [e for e in entries if begin <= e["started"] < end]

    per_run = []
    for run in runs:
        sent, admitted = in_span(requests, run.begin, run.end), in_span(ok, run.begin, run.end)
        seconds = run.end - run.begin
        per_min = len(admitted) / seconds * 60 / scale  # real-time requests per minute
        per_run.append({
            "seconds": seconds, "sent": len(sent), "admitted": len(admitted),
            "ratio_min": per_min / JIKAN_PER_MINUTE, "ratio_s": per_min / 60 / JIKAN_PER_SECOND,
            "expected": sum(t.expected for t in run.tasks), "stored": sum(t.stored for t in run.tasks),
            "lost": sum(max(0, t.expected - t.stored) for t in run.tasks),
            "r429_log": sum(1 for e in sent if e["status"] == 429),
            "r429_db": sum(t.rate_limited for t in run.tasks),
            "retries": sum(t.retries for t in run.tasks),
            "failed": sum(1 for t in run.tasks if t.error),
            # time not spent in the client's pacing: landing, client creation, request handling
            "overhead": seconds - len(sent) * settings.min_interval,
        })

    begin, end = runs[0].begin, runs[-1].end
    total_s = end - begin
    windows = []  # admitted requests in consecutive full 60 s windows from the first pass's start
    k = 0
    while begin + (k + 1) * 60 <= end:
        windows.append(len(in_span(ok, begin + k * 60, begin + (k + 1) * 60)))
        k += 1

    # gaps between consecutive request starts (server clock): inside one task, or across a task boundary
    tasks = [t for run in runs for t in run.tasks]

    def task_of(e):
        for t in tasks:
            if t.begin <= e["started"] < t.end:
                return t
        return None

    owner = [task_of(e) for e in requests]
    intra, boundary = [], []
    for a, b, ta, tb in zip(requests, requests[1:], owner, owner[1:]):
        (intra if ta is tb else boundary).append(b["started"] - a["started"])

    n_req = len(requests)
    overhead = total_s - n_req * settings.min_interval
    real_interval = settings.min_interval * scale
    projected = n_req / (n_req * real_interval + overhead) * 60 / JIKAN_PER_MINUTE if n_req else float("nan")
    return {
        "scale": scale, "limit_min": limit_min, "limit_s": limit_s, "settings": settings, "prod": prod,
        "runs": per_run, "n_runs": len(runs), "seconds": total_s,
        "sent": n_req, "admitted": len(ok),
        "ratio_min": len(ok) / total_s * 60 / scale / JIKAN_PER_MINUTE,
        "ratio_s": len(ok) / total_s / scale / JIKAN_PER_SECOND,
        "windows": windows,
        "max_60s": max_in_window([e["started"] for e in ok], 60.0),
        "max_1s": max_in_window([e["started"] for e in ok], 1.0),
        "expected": sum(r["expected"] for r in per_run), "stored": sum(r["stored"] for r in per_run),
        "lost": sum(r["lost"] for r in per_run),
        "r429_log": sum(r["r429_log"] for r in per_run), "r429_db": sum(r["r429_db"] for r in per_run),
        "r429_all": sum(1 for e in requests if e["status"] == 429),
        "retries": sum(r["retries"] for r in per_run), "failed": sum(r["failed"] for r in per_run),
        "max_in_flight": max_in_flight,
        "intra": intra, "boundary": boundary, "latency": latency, "overhead": overhead,
        "overhead_per_task": overhead / max(1, len(tasks)), "tasks": len(tasks),
        "projected_1x": projected,
        "per_type": {name: (sum(t.expected for t in tasks if t.snapshot == name),
                            sum(t.stored for t in tasks if t.snapshot == name))
                     for name in dict.fromkeys(t.snapshot for t in tasks)},
    }


# -- reporting -----------------------------------------------------------------------------------

def fmt(v, spec: str = ".3f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def spread(values: list[float], spec: str) -> tuple[str, str]:
    if not values:
        return "n/a", "n/a"
    return fmt(med(values), spec), f"{fmt(min(values), spec)}–{fmt(max(values), spec)}"


def table(m: dict) -> str:
    runs = m["runs"]
    col = lambda key: [r[key] for r in runs]  # noqa: E731
    s = m["scale"]
    rows = [
        ("achieved requests/min ÷ 60/min (ratio)", "≥ 0.95", fmt(m["ratio_min"]), col("ratio_min"), ".3f"),
        ("achieved requests/s ÷ 3/s", "—", fmt(m["ratio_s"]), col("ratio_s"), ".3f"),
        ("requests sent", "—", str(m["sent"]), col("sent"), ".0f"),
        ("requests admitted (200)", "—", str(m["admitted"]), col("admitted"), ".0f"),
        ("pages expected", "—", str(m["expected"]), col("expected"), ".0f"),
        ("pages stored (raw.jikan_pages)", "—", str(m["stored"]), col("stored"), ".0f"),
        ("pages lost", "0", str(m["lost"]), col("lost"), ".0f"),
        ("429s received (replay log)", "—", str(m["r429_all"]), col("r429_log"), ".0f"),
        ("429s counted by the client (raw.extract_batches)", "—", str(m["r429_db"]), col("r429_db"), ".0f"),
        ("retries", "—", str(m["retries"]), col("retries"), ".0f"),
        ("failed extracts", "0", str(m["failed"]), col("failed"), ".0f"),
        ("pass duration (s, at scale)", "—", f"{m['seconds']:.1f} total", col("seconds"), ".2f"),
        ("max requests in flight", "1", str(m["max_in_flight"]), None, ""),
    ]
    lines = [f"| metric | goal | whole run | median per pass | min–max over {m['n_runs']} passes |",
             "|---|---|---|---|---|"]
    for name, goal, whole, values, spec in rows:
        med_s, rng = spread(values, spec) if values is not None else ("—", "—")
        lines.append(f"| {name} | {goal} | {whole} | {med_s} | {rng} |")
    lines += ["", "| rate view (real time = at-scale ÷ %g) | value | Jikan's limit |" % s, "|---|---|---|"]
    if m["windows"]:
        w = [x / s for x in m["windows"]]
        lines.append(f"| requests in each full 60 s window (÷ scale): median, min–max over {len(w)} | "
                     f"{med(w):.1f}, {min(w):.1f}–{max(w):.1f} | 60 |")
    else:
        lines.append("| requests in each full 60 s window | run shorter than 60 s | 60 |")
    lines += [f"| most admitted in any sliding 60 s window (÷ scale) | {m['max_60s'] / s:.1f} | 60 |",
              f"| most admitted in any sliding 1 s window (÷ scale) | {m['max_1s'] / s:.2f} | 3 |"]
    ims, bs = m["intra"], m["boundary"]
    lines += ["", "| gap between request starts (server clock, × scale = real s) | median | min–max | count |",
              "|---|---|---|---|"]
    for label, gaps in (("within one extract task", ims), ("across a task boundary", bs)):
        if gaps:
            lines.append(f"| {label} | {med(gaps) * s:.3f} | {min(gaps) * s:.3f}–{max(gaps) * s:.3f} | {len(gaps)} |")
    lines += ["", "| type | pages expected | pages stored |", "|---|---|---|"]
    for name, (exp, got) in m["per_type"].items():
        lines.append(f"| {name} | {exp} | {got} |")
    return "\n".join(lines)


def analysis(m: dict) -> str:
    s, st, prod = m["scale"], m["settings"], m["prod"]
    real_interval = st.min_interval * s
    ratio = m["ratio_min"]
    out = []
    pacing_cap = 60 / real_interval / JIKAN_PER_MINUTE
    if ratio >= RATIO_GOAL:
        out.append(f"**Rate: goal met** — {ratio:.3f} of Jikan's 60/min (goal ≥ {RATIO_GOAL}).")
    else:
        out.append(f"**Rate: goal missed by {RATIO_GOAL - ratio:.3f}** — {ratio:.3f} of Jikan's 60/min "
                   f"({ratio * 60:.1f} requests/min against a goal of {RATIO_GOAL * 60:.0f}).")
    im = med(m["intra"]) * s if m["intra"] else float("nan")
    bm = med(m["boundary"]) * s if m["boundary"] else float("nan")
    out.append(
        f"Why: the client paces request *starts* at least `min_interval` = {real_interval:g} s apart, i.e. at most "
        f"{60 / real_interval:.1f}/min = {pacing_cap:.3f} of the limit, and a fixed interval can never catch up "
        f"on time lost elsewhere. Inside a task the gaps are {im:.3f} s (median, real-time), so the pacing "
        f"itself is exact; the loss is at the {m['tasks']} task boundaries: each new task's client waits a full "
        f"interval *after* the previous task finished its last response and landed its batch, so a boundary "
        f"gap is {bm:.3f} s (median). Over the run {m['overhead']:.2f} s of {m['seconds']:.1f} s at scale "
        f"({m['overhead_per_task'] * 1000:.0f} ms a task) were not pacing: landing in Postgres, creating the "
        f"client and hook, the last response. That time does not shrink with the scale, so the ×{s:g} run "
        f"overstates it about {s:g}-fold; at real speed the same overhead would give about "
        f"**{m['projected_1x']:.3f}** of the limit for back-to-back extracts (before Airflow's own task start-up, "
        f"which the pool adds between tasks and which is seconds, not milliseconds; and before Jikan's own "
        "response time, which only counts at a boundary, as the pacer spaces starts, and which the replay "
        "mimics with a scaled-down latency).")
    out.append(
        "Which limit binds: 3/s allows 180/min, so for anything longer than a 20 s burst the 60/min window "
        f"binds, and `min_interval` {prod.min_interval:g} s is *exactly* 60/min: there is no headroom in either "
        "direction. Any overhead drops the rate below 60/min (what is measured here), and since nothing spaces "
        "requests *more* than 1 s apart, a sliding 60 s window on the server can count a 61st start when request "
        "arrival jitters (a late request followed by an on-time one) — a 429 that then costs a "
        f"{prod.backoff_base:g}–{prod.backoff_base * 2:g} s back-off. "
        f"Here: {m['r429_all']} 429s in the replay log, {m['r429_db']} counted by the client, "
        f"most admitted in a sliding 60 s window {m['max_60s'] / s:.1f} (÷ scale) against 60, in any 1 s "
        f"{m['max_1s'] / s:.2f} against 3."
        + (f" The jitter is real: the client never starts two requests less than {real_interval:g} s apart, yet "
           f"the server saw gaps inside a task as short as {min(m['intra']) * s:.3f} s (real-time)."
           if m["intra"] and min(m["intra"]) < st.min_interval * 0.98 else ""))
    out.append(
        "Fix (ours, in `jikan/client.py`, not changed by this benchmark): pace against Jikan's two windows "
        "instead of a fixed interval — a sliding-window limiter in the client that admits a request when fewer "
        "than 3 starts fall in the last second and fewer than N starts in the last 60 s (N a little under 60, "
        "e.g. 58, or 60 with a ~50 ms margin on the window, to absorb arrival jitter). Time lost at task "
        "boundaries is then won back at up to 3/s (the 60/min window has room), so the sustained rate sits at "
        "the margin (≈ 0.97) rather than 60/min minus overheads, and a short run such as one day's 15 pages "
        "finishes in ~5 s instead of ~15 s. Because each Airflow task is a new process, the window's request "
        "stamps must outlive the client to be exact across the pool's hand-over: keep them in Redis (already "
        "a project dependency) or, failing that, keep today's 'first request waits one interval' rule. "
        "A smaller step, if the fixed interval stays: 1.0 s is right for the rate but leaves no jitter margin; "
        "1.02 s (0.98 of the limit) would trade 2% for that margin.")
    if m["lost"]:
        out.append(f"**Pages lost: {m['lost']}** of {m['expected']} ({m['failed']} failed extracts) — "
                   "see the stderr of the run for the errors.")
    else:
        out.append(f"**Pages lost: 0** of {m['expected']} — every page the caps and has_next_page call for "
                   "is in raw.jikan_pages.")
    out.append(f"**Max requests in flight: {m['max_in_flight']}**" + (
        " — the one-slot sequence never overlaps requests." if m["max_in_flight"] <= 1 else
        f" — goal of 1 missed by {m['max_in_flight'] - 1}."))
    return "\n\n".join(out)


def section(m: dict, argv: list[str]) -> str:
    s, st = m["scale"], m["settings"]
    cmd = "python bench/extraction.py" + ("" if not argv else " " + " ".join(argv))
    return "\n".join([
        "## Extraction against Jikan's rate limit", "", machine_line(), "",
        f"`{cmd}`: the replay enforces Jikan's limits ×{s:g} ({m['limit_s']:g}/s and {m['limit_min']:g}/min); "
        f"the client runs the production settings on a clock ×{s:g} faster (min_interval {st.min_interval:g} s, "
        f"back-off {st.backoff_base:g} s up to {st.backoff_max:g} s, timeout {st.timeout:g} s). One pass = the "
        "four extract tasks (top, airing, upcoming, movies) one after another through `pipeline.extract`, a new "
        f"`JikanClient` per task, pages landed in a scratch warehouse; {m['n_runs']} "
        f"pass{'es' if m['n_runs'] != 1 else ''} in {m['seconds']:.0f} s (replay latency {m['latency']:g} s a response "
        f"at scale). Rates are scaled back to real time (÷ {s:g}) and compared with 60/min and 3/s.",
        "", table(m), "", analysis(m)])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="multiply Jikan's limits and the client's clock")
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock minutes of passes")
    parser.add_argument("--passes", type=int, default=None, help="stop after this many passes instead")
    parser.add_argument("--min-interval", type=float, default=None,
                        help="production pacing interval to try, in real seconds (default: the client's)")
    parser.add_argument("--latency", type=float, default=0.05, help="replay latency per response, real seconds")
    parser.add_argument("--max-pages", type=int, default=None, help="lower every type's page cap")
    parser.add_argument("--smoke", action="store_true", help="x20, one pass; print the table, write no report")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    if args.smoke:
        args.scale, args.passes = 20, 1
    scale = args.scale

    from anime_dashboard.jikan.replay import JikanReplay
    from anime_dashboard.snapshots import SNAPSHOT_TYPES

    import logging

    for noisy in ("anime_dashboard.jikan.replay", "anime_dashboard.pipeline", "anime_dashboard.jikan.client"):
        logging.getLogger(noisy).setLevel(logging.ERROR)  # one line per request would drown the table
    prod = production_settings()
    settings = scaled_settings(prod, scale, args.min_interval)
    replay = JikanReplay(rate_per_second=JIKAN_PER_SECOND * scale, rate_per_minute=JIKAN_PER_MINUTE * scale,
                         latency=args.latency / scale)
    with replay, scratch_warehouse(args.keep) as conn:
        os.environ["AIRFLOW_CONN_JIKAN_DEFAULT"] = json.dumps(
            {"conn_type": "http", "host": replay.host, "port": replay.port, "schema": "http"})
        caps = {}
        from dataclasses import replace
        for snap in SNAPSHOT_TYPES:
            if args.max_pages is not None:
                snap = replace(snap, max_pages=min(snap.max_pages, args.max_pages))
            caps[snap.name] = expected_pages(replay, snap)
        print(f"replay x{scale}: {JIKAN_PER_SECOND * scale}/s, {JIKAN_PER_MINUTE * scale}/min; client "
              f"min_interval {settings.min_interval:g} s; {sum(caps.values())} pages a pass {caps}", flush=True)
        from anime_dashboard.jikan.client import JikanClient

        JikanClient(settings=settings)._http()  # import Airflow's HTTP hook before the clock starts
        replay.reset_log()
        runs: list[Run] = []
        deadline = time.time() + args.minutes * 60
        while True:
            runs.append(run_pass(len(runs) + 1, conn, replay, settings, caps, args.max_pages))
            if args.passes is not None and len(runs) >= args.passes:
                break
            if args.passes is None and time.time() >= deadline:
                break
            if len(runs) % 20 == 0:
                print(f"  {len(runs)} passes, {time.time() - runs[0].begin:.0f} s", flush=True)
        read_back(conn, runs)
        metrics = analyse(runs, replay.log, replay.max_in_flight, scale, settings, prod, replay.latency)
    body = section(metrics, argv)
    print(body)
    if not args.smoke:
        write_section(SECTION, body)
        print(f"wrote section '{SECTION}' of docs/benchmarks.md")
    missed = []
    if metrics["ratio_min"] < RATIO_GOAL:
        missed.append(f"ratio {metrics['ratio_min']:.3f} < {RATIO_GOAL}")
    if metrics["lost"]:
        missed.append(f"{metrics['lost']} pages lost")
    if metrics["max_in_flight"] > 1:
        missed.append(f"max in flight {metrics['max_in_flight']}")
    if missed:
        print("goals missed: " + ", ".join(missed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
