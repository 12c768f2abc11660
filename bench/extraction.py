"""Benchmark: the four DAGs' extract tasks against the Jikan replay enforcing Jikan's rate limit (3/s, 60/min).

    python -m bench.extraction                    # limits x10 (30/s, 600/min) for 5 minutes; writes docs/benchmarks.md
    python -m bench.extraction --scale 20 --minutes 3
    python -m bench.extraction --smoke            # x20, one pass of the four types; prints the table only

The replay's windows are multiplied by ``--scale`` and the client runs its production settings (no
ANIME_DASHBOARD_JIKAN_* overrides) on a clock ``--scale`` times faster; its limiter uses the real Redis under a
key of its own. One pass runs the four extracts one after another through ``pipeline.extract`` into a scratch
warehouse; passes repeat for ``--minutes``. Measured, scaled back to real time: requests per minute against the
limit (goal >= 0.95), pages expected against stored (goal: none lost), 429s, requests in flight (goal 1).
docs/benchmarks.md explains the figures.
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

from bench.report import machine_line, write_section
from testkit.warehouse import scratch_database

JIKAN_PER_SECOND = 3
JIKAN_PER_MINUTE = 60
RATIO_GOAL = 0.95
SECTION = "extraction"


# -- set-up --------------------------------------------------------------------------------------





@contextmanager
def scratch_warehouse(keep: bool = False):
    """A new database on the warehouse's server with the warehouse's schema; dropped afterwards."""
    with scratch_database("ad_bench_extract", keep=keep, migrated=True) as (_, conn):
        yield conn


@contextmanager
def redis_key(url: str, key: str):
    try:
        yield key
    finally:
        drop_key(url, key)


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


def scaled_settings(prod, scale: float, limiter_key: str, min_interval: float | None = None,
                    per_second: int | None = None, per_minute: int | None = None):
    """Production settings on a clock ``scale`` times faster: every duration (the rate windows' lengths
    included) divided by the scale, the windows' counts unchanged."""
    from anime_dashboard.settings import JikanSettings

    return JikanSettings(
        min_interval=(prod.min_interval if min_interval is None else min_interval) / scale,
        max_attempts=prod.max_attempts,
        backoff_base=prod.backoff_base / scale,
        backoff_max=prod.backoff_max / scale,
        timeout=prod.timeout / scale,
        per_second=prod.per_second if per_second is None else per_second,
        per_minute=prod.per_minute if per_minute is None else per_minute,
        second_span=prod.second_span / scale,
        minute_span=prod.minute_span / scale,
        limiter_key=limiter_key,
        redis_url=prod.redis_url,
    )


def check_redis(url: str, key: str) -> None:
    """Stop with a message unless Redis answers (the benchmark measures the shared limiter)."""
    import redis

    from anime_dashboard.jikan.rate_limit import redact

    try:
        r = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        r.ping()
        r.delete(key)
        r.close()
    except redis.exceptions.RedisError as exc:
        raise SystemExit(f"Redis at {redact(url)} is not reachable ({exc}): the client's rate limiter keeps "
                         "its windows there. Start Redis or set ANIME_DASHBOARD_REDIS_URL.") from exc


def drop_key(url: str, key: str) -> None:
    import redis

    try:
        r = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        r.delete(key)
        r.close()
    except redis.exceptions.RedisError:
        pass  # the key expires a window after its last request anyway


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
    waited: float = 0.0  # seconds the client slept in its rate limiter
    backend: str = ""  # the limiter in use at the end: "redis", or "local" after a fall-back
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
        task.waited, task.backend = client.limiter.waited, client.limiter.backend
        if task.backend != "redis":
            print(f"  pass {index} {snapshot.name}: limiter fell back to in-process pacing: "
                  f"{client.limiter.fallback_reason}", file=sys.stderr)
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
    """Most request starts in any half-open window of ``span`` seconds."""
    from anime_dashboard.jikan.rate_limit import max_in_window as most

    return most(starts, span)


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def in_span(entries: list[dict], begin: float, end: float) -> list[dict]:
    return [e for e in entries if begin <= e["started"] < end]


def run_figures(run: Run, requests: list[dict], ok: list[dict], scale: float) -> dict:
    """One pass: requests sent and admitted, the rate in real-time terms, what was stored, lost and retried."""
    sent, admitted = in_span(requests, run.begin, run.end), in_span(ok, run.begin, run.end)
    seconds = run.end - run.begin
    per_min = len(admitted) / seconds * 60 / scale  # real-time requests per minute
    return {
        "seconds": seconds, "sent": len(sent), "admitted": len(admitted),
        "ratio_min": per_min / JIKAN_PER_MINUTE, "ratio_s": per_min / 60 / JIKAN_PER_SECOND,
        "expected": sum(t.expected for t in run.tasks), "stored": sum(t.stored for t in run.tasks),
        "lost": sum(max(0, t.expected - t.stored) for t in run.tasks),
        "r429_log": sum(1 for e in sent if e["status"] == 429),
        "r429_db": sum(t.rate_limited for t in run.tasks),
        "retries": sum(t.retries for t in run.tasks),
        "failed": sum(1 for t in run.tasks if t.error),
        "fallbacks": sum(1 for t in run.tasks if t.backend != "redis"),
        # time not spent waiting in the rate limiter: requests, landing, client creation
        "overhead": seconds - sum(t.waited for t in run.tasks),
    }


def minute_windows(ok: list[dict], begin: float, end: float) -> list[int]:
    """Admitted requests in consecutive full 60 s windows from ``begin``."""
    return [len(in_span(ok, begin + k * 60, begin + (k + 1) * 60)) for k in range(int((end - begin) // 60))]


def request_gaps(requests: list[dict], tasks: list[Task]) -> tuple[list[float], list[float]]:
    """Gaps between consecutive request starts (server clock): inside one task, and across a task boundary."""
    owner = [next((t for t in tasks if t.begin <= e["started"] < t.end), None) for e in requests]
    intra, boundary = [], []
    for a, b, ta, tb in zip(requests, requests[1:], owner, owner[1:]):
        (intra if ta is tb else boundary).append(b["started"] - a["started"])
    return intra, boundary


def real_speed_projection(n_req: int, n_runs: int, n_tasks: int, overhead: float, settings, scale: float) -> dict:
    """The rate at real speed: a pass's requests need at least the short window's spacing (2 per 1 s: 15 starts
    span 7 s) plus the same absolute non-waiting time; the long window caps the rate at per_minute a minute."""
    n_pass, tasks_pass = n_req / max(1, n_runs), n_tasks / max(1, n_runs)
    second_real, minute_real = settings.second_span * scale, settings.minute_span * scale
    cap = (settings.per_minute * 60 / minute_real / JIKAN_PER_MINUTE if settings.per_minute
           else float("inf"))
    min_pass = ((math.ceil(n_pass / settings.per_second) - 1) * second_real if settings.per_second
                else max(0.0, n_pass - 1) * settings.min_interval * scale)
    min_pass = max(min_pass, max(0.0, n_pass - 1) * settings.min_interval * scale)
    demand = (n_pass / (min_pass + overhead / max(1, n_runs)) * 60 / JIKAN_PER_MINUTE if n_req
              else float("nan"))
    # the longest a task boundary may take at real speed before the pipeline, not the limiter, sets the rate
    boundary_budget = ((n_pass * minute_real / settings.per_minute - min_pass) / tasks_pass
                       if settings.per_minute else float("nan"))
    return {"projected_1x": min(cap, demand), "cap": cap, "demand_1x": demand, "min_pass": min_pass,
            "n_pass": n_pass, "tasks_pass": tasks_pass, "boundary_budget": boundary_budget,
            "second_real": second_real, "minute_real": minute_real}


def analyse(runs: list[Run], log: list[dict], max_in_flight: int, scale: float, settings, prod,
            latency: float) -> dict:
    requests = sorted((e for e in log if e["path"].rstrip("/") == "/v4/anime"), key=lambda e: e["started"])
    ok = [e for e in requests if e["status"] == 200]
    per_run = [run_figures(run, requests, ok, scale) for run in runs]
    tasks = [t for run in runs for t in run.tasks]
    total_s = runs[-1].end - runs[0].begin
    waited = sum(t.waited for t in tasks)
    overhead = total_s - waited  # at scale, in absolute seconds: it does not shrink with the scale
    projection = real_speed_projection(len(requests), len(runs), len(tasks), overhead, settings, scale)
    intra, boundary = request_gaps(requests, tasks)
    starts_ok = [e["started"] for e in ok]
    totals = {key: sum(r[key] for r in per_run)
              for key in ("expected", "stored", "lost", "r429_log", "r429_db", "retries", "failed", "fallbacks")}
    return {
        "scale": scale, "limit_min": JIKAN_PER_MINUTE * scale, "limit_s": JIKAN_PER_SECOND * scale,
        "settings": settings, "prod": prod, "runs": per_run, "n_runs": len(runs), "seconds": total_s,
        "sent": len(requests), "admitted": len(ok),
        "ratio_min": len(ok) / total_s * 60 / scale / JIKAN_PER_MINUTE,
        "ratio_s": len(ok) / total_s / scale / JIKAN_PER_SECOND,
        "windows": minute_windows(ok, runs[0].begin, runs[-1].end),
        "max_60s": max_in_window(starts_ok, 60.0),
        "max_1s": max_in_window(starts_ok, 1.0),
        # the same on the client's (scaled) clock: the windows the limiter keeps, in real-time terms
        "max_client_minute": max_in_window(starts_ok, projection["minute_real"] / scale),
        "max_client_second": max_in_window(starts_ok, projection["second_real"] / scale),
        **totals,
        "r429_all": sum(1 for e in requests if e["status"] == 429),
        "max_in_flight": max_in_flight,
        "intra": intra, "boundary": boundary, "latency": latency, "overhead": overhead, "waited": waited,
        "overhead_per_task": overhead / max(1, len(tasks)), "tasks": len(tasks),
        **projection,
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
        ("extract tasks on the in-process fall-back (Redis unusable)", "0", str(m["fallbacks"]),
         col("fallbacks"), ".0f"),
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
    st = m["settings"]
    lines += [f"| most admitted in any sliding 60 s window (÷ scale) | {m['max_60s'] / s:.1f} | 60 |",
              f"| most admitted in any sliding 1 s window (÷ scale) | {m['max_1s'] / s:.2f} | 3 |"]
    if st.per_minute:
        lines.append(f"| most admitted in any {m['minute_real']:g} s of the client's scaled clock "
                     f"({m['minute_real'] / s:g} s at scale, replay arrival times; the limiter keeps ≤ "
                     f"{st.per_minute}) | {m['max_client_minute']} | 60 |")
    if st.per_second:
        lines.append(f"| most admitted in any {m['second_real']:g} s of the client's scaled clock "
                     f"({m['second_real'] / s:g} s at scale, replay arrival times; the limiter keeps ≤ "
                     f"{st.per_second}) | {m['max_client_second']} | 3 |")
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


def limiter_words(st) -> str:
    parts = [f"at most {st.per_second} starts in any {st.second_span:g} s" if st.per_second else "",
             f"{st.per_minute} in any {st.minute_span:g} s" if st.per_minute else "",
             f"an extra {st.min_interval:g} s floor between one client's starts" if st.min_interval else ""]
    return ", ".join(p for p in parts if p) or "no pacing"


def findings(m: dict) -> str:
    """The run's verdicts and derived figures, one line each (docs/benchmarks.md explains them under the section)."""
    from anime_dashboard.jikan.rate_limit import fallback_interval

    s, st = m["scale"], m["settings"]
    ratio = m["ratio_min"]
    w = [x / s for x in m["windows"]]
    per_pass = [r["ratio_min"] for r in m["runs"]]
    spacing = fallback_interval([(m["second_real"], st.per_second), (m["minute_real"], st.per_minute)]
                                if st.per_second and st.per_minute else st.windows)
    out = [
        (f"**Rate: goal met** — {ratio:.3f} of Jikan's 60/min (goal ≥ {RATIO_GOAL}), {ratio * 60:.1f} requests/min."
         if ratio >= RATIO_GOAL else
         f"**Rate: goal missed by {RATIO_GOAL - ratio:.3f}** — {ratio:.3f} of Jikan's 60/min ({ratio * 60:.1f} "
         f"requests/min against a goal of {RATIO_GOAL * 60:.0f})."),
        f"Long window's cap {m['cap']:.3f} of the limit ({st.per_minute}/60); "
        + (f"full 60 s windows held {min(w):.1f}–{max(w):.1f} requests (÷ scale), the whole run "
           f"{ratio / m['cap']:.3f} of the cap." if w and m["cap"] else
           "the run was shorter than one 60 s window (a burst under the short window, not a sustained rate)."),
        "Median gap between starts: "
        + (f"{med(m['boundary']) * s:.3f} s at a task boundary, " if m["boundary"] else "")
        + (f"{med(m['intra']) * s:.3f} s inside a task (real time)." if m["intra"] else "none inside a task."),
    ]
    if m["intra"] and per_pass:
        out.append(f"Single passes: {min(per_pass):.2f}–{max(per_pass):.2f} of 60/min; gaps between starts "
                   f"{min(m['intra'] + m['boundary']) * s:.3f}–{max(m['intra'] + m['boundary']) * s:.1f} s (real time).")
    out += [
        f"Time: {m['waited']:.1f} s of {m['seconds']:.1f} s at scale waiting in the limiter, {m['overhead']:.1f} s "
        f"({m['overhead_per_task'] * 1000:.0f} ms a task) the rest; projected at real speed **≈ "
        f"{m['projected_1x']:.3f}** of the limit (the pipeline alone could ask for {m['demand_1x']:.2f}); a task "
        f"boundary may cost up to **{m['boundary_budget']:.1f} s** before the hand-over sets the rate.",
        f"429s: {m['r429_all']} in the replay log, {m['r429_db']} counted by the client. Most starts in any "
        f"{m['minute_real']:g} s of the client's clock {m['max_client_minute']} (limiter {st.per_minute}, Jikan 60), "
        f"in any {m['second_real']:g} s {m['max_client_second']} (limiter {st.per_second}, Jikan 3); the replay saw "
        f"at most {m['max_60s'] / s:.1f} in 60 s and {m['max_1s'] / s:.2f} in 1 s (÷ scale).",
        (f"**{m['fallbacks']} extract task(s) fell back to in-process pacing** (Redis unusable): see stderr."
         if m["fallbacks"] else "No task fell back to in-process pacing")
        + f" (that pacing: {spacing:.3f} s between starts, real time; not measured here).",
        (f"**Pages lost: {m['lost']}** of {m['expected']} ({m['failed']} failed extracts): see stderr."
         if m["lost"] else f"**Pages lost: 0** of {m['expected']}."),
        f"**Max requests in flight: {m['max_in_flight']}**"
        + (" (goal 1)." if m["max_in_flight"] <= 1 else f" — goal of 1 missed by {m['max_in_flight'] - 1}."),
    ]
    return "\n".join(f"- {line}" for line in out)


def section(m: dict, argv: list[str]) -> str:
    s, st = m["scale"], m["settings"]
    cmd = "python -m bench.extraction" + ("" if not argv else " " + " ".join(argv))
    return "\n".join([
        "## Extraction against Jikan's rate limit", "", machine_line(), "",
        f"`{cmd}`: the replay enforces Jikan's limits ×{s:g} ({m['limit_s']:g}/s and {m['limit_min']:g}/min); "
        f"the client runs the production settings on a clock ×{s:g} faster (rate limiter {limiter_words(st)}, "
        "shared through the real Redis under a key of the run's own; "
        f"back-off {st.backoff_base:g} s up to {st.backoff_max:g} s, timeout {st.timeout:g} s). One pass = the "
        "four extract tasks (top, airing, upcoming, movies) one after another through `pipeline.extract`, a new "
        f"`JikanClient` per task, pages landed in a scratch warehouse; {m['n_runs']} "
        f"pass{'es' if m['n_runs'] != 1 else ''} in {m['seconds']:.0f} s (replay latency {m['latency']:g} s a response "
        f"at scale). Rates are scaled back to real time (÷ {s:g}) and compared with 60/min and 3/s.",
        "", table(m), "", findings(m)])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10, help="multiply Jikan's limits and the client's clock")
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock minutes of passes")
    parser.add_argument("--passes", type=int, default=None, help="stop after this many passes instead")
    parser.add_argument("--min-interval", type=float, default=None,
                        help="extra floor between one client's starts to try, real seconds (default: the client's, 0)")
    parser.add_argument("--per-second", type=int, default=None,
                        help="most starts in any 1 s to try (default: the client's, 2)")
    parser.add_argument("--per-minute", type=int, default=None,
                        help="most starts in any 60 s to try (default: the client's, 58)")
    parser.add_argument("--latency", type=float, default=0.05, help="replay latency per response, real seconds")
    parser.add_argument("--max-pages", type=int, default=None, help="lower every type's page cap")
    parser.add_argument("--smoke", action="store_true", help="x20, one pass; print the table, write no report")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    if args.smoke:
        args.scale, args.passes = 20, 1
    scale = args.scale

    from testkit.replay import ScriptedReplay
    from anime_dashboard.snapshots import SNAPSHOT_TYPES

    import logging

    for noisy in ("anime_dashboard.jikan.replay", "anime_dashboard.pipeline", "anime_dashboard.jikan.client"):
        logging.getLogger(noisy).setLevel(logging.ERROR)  # one line per request would drown the table
    prod = production_settings()
    key = f"anime_dashboard:bench:{uuid.uuid4().hex[:8]}:jikan:starts"
    settings = scaled_settings(prod, scale, key, args.min_interval, args.per_second, args.per_minute)
    check_redis(settings.redis_url, key)
    replay = ScriptedReplay(rate_per_second=JIKAN_PER_SECOND * scale, rate_per_minute=JIKAN_PER_MINUTE * scale,
                         latency=args.latency / scale)
    with replay, scratch_warehouse(args.keep) as conn, redis_key(settings.redis_url, key):
        os.environ["AIRFLOW_CONN_JIKAN_DEFAULT"] = json.dumps(
            {"conn_type": "http", "host": replay.host, "port": replay.port, "schema": "http"})
        caps = {}
        from dataclasses import replace
        for snap in SNAPSHOT_TYPES:
            if args.max_pages is not None:
                snap = replace(snap, max_pages=min(snap.max_pages, args.max_pages))
            caps[snap.name] = expected_pages(replay, snap)
        print(f"replay x{scale}: {JIKAN_PER_SECOND * scale}/s, {JIKAN_PER_MINUTE * scale}/min; client limiter "
              f"{limiter_words(settings)}; {sum(caps.values())} pages a pass {caps}", flush=True)
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
    if metrics["fallbacks"]:
        missed.append(f"{metrics['fallbacks']} tasks on the in-process fall-back")
    if missed:
        print("goals missed: " + ", ".join(missed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
