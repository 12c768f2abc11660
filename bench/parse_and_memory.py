"""Benchmark: DAG folder parse time, and the peak memory of extract and validate for 1,000 titles.

    python -m bench.parse_and_memory                  # 5 repeats, 1,000 and 2,000 titles, writes docs/benchmarks.md
    python -m bench.parse_and_memory --smoke          # 1 repeat, 100 titles, no warm-up run, no -X importtime:
                                                      # checks the script works, prints, writes no report

Parse. Every measurement is a fresh interpreter (nothing in ``sys.modules`` yet; the ``.pyc`` files on disk
are warm, as they are for Airflow's DAG processor; one discarded run writes them first):

* folder: ``import airflow``, then ``from airflow.dag_processing.dagbag import DagBag``, then
  ``DagBag(dag_folder=dags/)``, each phase timed inside the child;
* baseline: a separate child that only does the two imports: the fixed cost any DAG folder pays.
  The folder's own cost is each folder child's total minus its own two import phases (i.e. the
  ``DagBag(...)`` call); total minus the separate baseline is reported too, but it compares two sets of
  processes, so on a busy machine it is noisier;
* each DAG file: after the same two imports, the file alone loaded with ``importlib`` (its own imports
  included), plus one extra ``python -X importtime`` run naming the heaviest modules it pulls in.

Goal: the folder's own cost < 1 s.

Memory. A scratch warehouse database (migrations + analytics applied, dropped at the end) and the offline
Jikan replay serving the real corpus (415 objects) plus id-shifted copies of it (``mal_id`` + k x 1,000,000,
title suffixed), so there are as many distinct titles as asked, no rate limit, no latency. Each figure comes
from its own fresh child process that imports everything and does a small warm-up run (1 page) first, then:

* ``tracemalloc`` peak: the most Python-allocated memory live at once during the step (traced allocations
  only: libpq's own buffers are not in it);
* peak RSS growth: ``ru_maxrss`` after the step minus the RSS just before it (``/proc/self/statm``): what
  the task process really grew by, allocator slack and C buffers included (run without tracemalloc).

Not a test: the figures depend on the machine, so they are written down, not asserted.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.report import REPORT, machine_line, write_section
from testkit.warehouse import admin, server_params

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
GOAL_S = 1.0
SECTION = "parse-and-memory"
RESULT = "RESULT "
PAGE_SIZE = 25
ID_SHIFT = 1_000_000


# --------------------------------------------------------------------------------------------------
# children (run in fresh interpreters: ``python -m bench.parse_and_memory --child '<json spec>'``)
# --------------------------------------------------------------------------------------------------

def _emit(payload: dict) -> None:
    print(RESULT + json.dumps(payload), flush=True)


def _child_parse(spec: dict) -> None:
    t0 = time.perf_counter()
    import airflow  # noqa: F401

    t1 = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    t2 = time.perf_counter()
    out = {"import_airflow": t1 - t0, "import_dagbag": t2 - t1}
    if spec["what"] == "folder":
        bag = DagBag(dag_folder=spec["folder"])
        t3 = time.perf_counter()
        out.update(dagbag=t3 - t2, total=t3 - t0, dags=sorted(bag.dag_ids),
                   errors={k: str(v) for k, v in bag.import_errors.items()},
                   files={Path(s.file).name: s.duration.total_seconds() for s in bag.dagbag_stats})
    elif spec["what"] == "file":
        import importlib.util

        if spec.get("marker"):
            print("=== file import starts ===", file=sys.stderr, flush=True)
        path = Path(spec["file"])
        t3 = time.perf_counter()
        module_spec = importlib.util.spec_from_file_location(f"bench_dagfile_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        t4 = time.perf_counter()
        from airflow.sdk import DAG

        out.update(file=t4 - t3, dags=sorted(v.dag_id for v in vars(module).values() if isinstance(v, DAG)))
    else:  # baseline: the two imports only
        out.update(total=t2 - t0)
    _emit(out)


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _child_memory(spec: dict) -> None:
    import gc
    import resource
    import tracemalloc
    from datetime import datetime, timezone

    import psycopg2

    import airflow.providers.http.hooks.http  # noqa: F401  (the client imports it on first use)
    from anime_dashboard import pipeline
    from anime_dashboard.jikan.client import JikanClient
    from anime_dashboard.settings import JikanSettings
    from anime_dashboard.snapshots import SnapshotType

    def bench_type(pages: int) -> SnapshotType:
        return SnapshotType(name="bench", dag_id="bench_parse_and_memory", description="benchmark",
                            params={"order_by": "mal_id", "sort": "asc"}, max_pages=pages)

    def client() -> JikanClient:
        return JikanClient(settings=JikanSettings(min_interval=0.0, max_attempts=3, backoff_base=0.01,
                                                  backoff_max=0.1, timeout=30.0))

    today = datetime.now(timezone.utc).date()
    run_id = f"bench_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(**spec["db"])
    try:
        # warm-up: every import, the connection lookups and the SQL files, on one page
        warm = pipeline.extract(bench_type(1), conn=conn, dag_id="bench", run_id=run_id + "_warm",
                                snapshot_date=today, client=client())
        if spec["step"] == "validate":
            pipeline.validate(warm["batch_id"], conn=conn, max_reject_share=1.0)
        gc.collect()
        rss_before = _rss_kib()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if spec["measure"] == "tracemalloc":
            tracemalloc.start()
            tracemalloc.reset_peak()
        t0 = time.perf_counter()
        if spec["step"] == "extract":
            result = pipeline.extract(bench_type(spec["pages"]), conn=conn, dag_id="bench", run_id=run_id,
                                      snapshot_date=today, client=client())
        else:
            result = pipeline.validate(spec["batch_id"], conn=conn, max_reject_share=1.0)
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if spec["measure"] == "tracemalloc" else None
        tracemalloc.stop()
        maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        conn.close()
    _emit({"result": {k: v for k, v in result.items() if isinstance(v, (int, float, str))},
           "seconds": elapsed, "tracemalloc_peak_bytes": peak, "rss_before_kib": rss_before,
           "maxrss_before_kib": maxrss_before, "maxrss_after_kib": maxrss_after,
           "rss_growth_kib": maxrss_after - rss_before})


# --------------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------------

def child_env(home: Path) -> dict:
    env = os.environ.copy()
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    })
    return env


def run_child(spec: dict, env: dict, python_flags: tuple[str, ...] = ()) -> tuple[dict, str]:
    out = subprocess.run([sys.executable, *python_flags, "-m", "bench.parse_and_memory", "--child", json.dumps(spec)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith(RESULT)]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"child {spec} failed (exit {out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(lines[-1][len(RESULT):]), out.stderr


def heaviest_imports(stderr: str, top: int = 3) -> list[tuple[str, float]]:
    """Top-level modules first imported by the DAG file (``-X importtime`` lines after the marker)."""
    _, _, after = stderr.partition("=== file import starts ===")
    found = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part for part in line[len("import time:"):].split("|"))
        if not cumulative.strip().isdigit() or name.startswith("  "):  # header, or nested under another
            continue
        found.append((name.strip(), int(cumulative) / 1e6))
    return sorted(found, key=lambda x: -x[1])[:top]


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def measure_parse(repeats: int, home: Path, smoke: bool = False) -> dict:
    env = child_env(home)
    files = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
    if not smoke:  # discarded: the first run writes .pyc files and airflow.cfg
        run_child({"what": "folder", "folder": str(DAGS)}, env)
    loadavg = os.getloadavg()
    folder, baseline = [], []
    per_file: dict[str, list[dict]] = {p.name: [] for p in files}
    for i in range(repeats):
        folder.append(run_child({"what": "folder", "folder": str(DAGS)}, env)[0])
        baseline.append(run_child({"what": "baseline"}, env)[0])
        for p in files:
            per_file[p.name].append(run_child({"what": "file", "file": str(p)}, env)[0])
        print(f"  parse repeat {i + 1}/{repeats}: folder {folder[-1]['total']:.2f} s "
              f"(DagBag {folder[-1]['dagbag']:.2f} s), baseline {baseline[-1]['total']:.2f} s", flush=True)
    errors = folder[-1]["errors"]
    if errors:
        raise SystemExit(f"the DAG folder has import errors: {errors}")
    imports = {p.name: [] if smoke else heaviest_imports(
        run_child({"what": "file", "file": str(p), "marker": True}, env, ("-X", "importtime"))[1]) for p in files}
    total = summary([r["total"] for r in folder])
    base = summary([r["total"] for r in baseline])
    return {
        "repeats": repeats, "dags": folder[-1]["dags"], "loadavg": loadavg,
        "total": total, "baseline": base,
        "import_airflow": summary([r["import_airflow"] for r in baseline]),
        "import_dagbag": summary([r["import_dagbag"] for r in baseline]),
        "own": summary([r["total"] - r["import_airflow"] - r["import_dagbag"] for r in folder]),
        "own_across": total["median"] - base["median"],
        "files": {name: {"import": summary([r["file"] for r in runs]), "dags": runs[-1]["dags"],
                         "in_dagbag": summary([r["files"].get(name, 0.0) for r in folder]),
                         "heaviest": imports[name]}
                  for name, runs in per_file.items()},
    }






def extended_corpus(titles: int, path: Path) -> int:
    """Write the real corpus plus id-shifted copies (>= ``titles`` objects) to ``path``; the count written."""
    from anime_dashboard.jikan.replay import DEFAULT_CORPUS_PATH

    real = json.loads(DEFAULT_CORPUS_PATH.read_text(encoding="utf-8"))
    if isinstance(real, dict):
        real = real["data"]
    if max(a["mal_id"] for a in real) >= ID_SHIFT:
        raise SystemExit(f"a real mal_id is >= {ID_SHIFT:,}: the id shift would collide")
    corpus = list(real)
    k = 1
    while len(corpus) < titles:
        for anime in real:
            copy = dict(anime, mal_id=anime["mal_id"] + k * ID_SHIFT)
            if isinstance(copy.get("title"), str):
                copy["title"] = f"{copy['title']} (copy {k})"
            corpus.append(copy)
        k += 1
    path.write_text(json.dumps(corpus), encoding="utf-8")
    return len(corpus)


def measure_memory(sizes: list[int], home: Path) -> dict:
    import psycopg2

    from anime_dashboard.analytics import apply_analytics
    from anime_dashboard.jikan.replay import JikanReplay
    from anime_dashboard.warehouse.migrations import apply_migrations

    corpus_path = home / "bench_corpus.json"
    served = extended_corpus(max(sizes), corpus_path)
    name = f"ad_bench_mem_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    rows = []
    try:
        db = {"dbname": name, **server_params()}
        conn = psycopg2.connect(**db)
        try:
            apply_migrations(conn)
            apply_analytics(conn)
        finally:
            conn.close()
        with JikanReplay(corpus_path=corpus_path, rate_per_second=None, rate_per_minute=None,
                         latency=0.0) as replay:
            env = child_env(home)
            env["AIRFLOW_CONN_JIKAN_DEFAULT"] = json.dumps(
                {"conn_type": "http", "host": replay.host, "port": replay.port, "schema": "http"})
            env["AIRFLOW_CONN_WAREHOUSE"] = (f"postgresql://{db['user']}@{db['host']}:{db['port']}/{name}")
            for titles in sizes:
                pages = math.ceil(titles / PAGE_SIZE)
                row = {"titles": titles, "pages": pages}
                for measure in ("tracemalloc", "rss"):
                    ext, _ = run_child({"step": "extract", "measure": measure, "pages": pages, "db": db}, env)
                    val, _ = run_child({"step": "validate", "measure": measure, "batch_id": ext["result"]["batch_id"],
                                        "db": db}, env)
                    row[f"extract_{measure}"], row[f"validate_{measure}"] = ext, val
                row["received"] = row["extract_rss"]["result"]["received"]
                row["valid"] = row["validate_rss"]["result"]["valid"]
                row["rejected"] = row["validate_rss"]["result"]["rejected"]
                rows.append(row)
                print(f"  memory {titles:,} titles: extract peak {mb(row['extract_tracemalloc']['tracemalloc_peak_bytes']):.1f} MB "
                      f"traced / +{row['extract_rss']['rss_growth_kib'] / 1024:.1f} MB RSS; validate peak "
                      f"{mb(row['validate_tracemalloc']['tracemalloc_peak_bytes']):.1f} MB traced / "
                      f"+{row['validate_rss']['rss_growth_kib'] / 1024:.1f} MB RSS", flush=True)
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"rows": rows, "corpus": served}


def mb(n_bytes: float) -> float:
    return n_bytes / 2**20


def fmt(s: dict) -> str:
    return f"{s['median']:.3f} s ({s['min']:.3f}–{s['max']:.3f})"


def tables(parse: dict, memory: dict) -> str:
    own = parse["own"]["median"]
    met = own < GOAL_S and parse["own"]["max"] < GOAL_S
    load = ", ".join(f"{x:.2f}" for x in parse["loadavg"])
    lines = [f"Parse: {parse['repeats']} fresh interpreters per measurement; median (min–max). "
             f"DAGs found: {', '.join(f'`{d}`' for d in parse['dags'])}. Load average when parsing began: {load} "
             "(the machine may be shared with other runs: the import times swing with it).", "",
             "| measurement | time |", "|---|---|",
             f"| whole folder: `import airflow` + DagBag import + `DagBag(dag_folder=dags/)` (total) | {fmt(parse['total'])} |",
             f"| airflow baseline, separate process: `import airflow` + `from airflow.dag_processing.dagbag import DagBag` | {fmt(parse['baseline'])} |",
             f"| &nbsp;&nbsp;of which `import airflow` | {fmt(parse['import_airflow'])} |",
             f"| &nbsp;&nbsp;of which the DagBag import | {fmt(parse['import_dagbag'])} |",
             f"| **the folder's own cost**: total − that process's own two imports (= the `DagBag(dag_folder=dags/)` call) | **{fmt(parse['own'])}** |",
             f"| the same across processes: median total − median baseline (noisier: two sets of processes) | {parse['own_across']:.3f} s |",
             "", "| DAG file | DAGs | import after airflow (own process) | parse inside the folder's DagBag | "
             "heaviest new imports (`-X importtime`, cumulative) |", "|---|---|---|---|---|"]
    for name, f in parse["files"].items():
        heavy = ", ".join(f"`{m}` {s * 1000:.0f} ms" for m, s in f["heaviest"]) or "– (not run with --smoke)"
        lines.append(f"| `dags/{name}` | {len(f['dags'])} | {fmt(f['import'])} | {fmt(f['in_dagbag'])} | {heavy} |")
    lines += ["", f"Memory: offline Jikan replay serving {memory['corpus']:,} distinct titles (the 415 real objects, "
              "then id-shifted copies of them as needed; no rate limit, no latency), scratch warehouse database; each cell one fresh process "
              "after a 1-page warm-up. Traced = `tracemalloc` peak (Python allocations); RSS = `ru_maxrss` after "
              "the step − RSS before it (run without tracemalloc).", "",
              "| step | titles | pages | traced peak | RSS growth | traced per 1,000 titles | RSS per 1,000 titles | time |",
              "|---|---|---|---|---|---|---|---|"]
    for row in memory["rows"]:
        for step in ("extract", "validate"):
            traced = mb(row[f"{step}_tracemalloc"]["tracemalloc_peak_bytes"])
            rss = row[f"{step}_rss"]["rss_growth_kib"] / 1024
            per = 1000 / row["titles"]
            lines.append(f"| {step} | {row['titles']:,} | {row['pages']} | {traced:.1f} MB | {rss:.1f} MB | "
                         f"{traced * per:.1f} MB | {rss * per:.1f} MB | {row[f'{step}_rss']['seconds']:.2f} s |")
    lines.append("")
    lines.append(", ".join(f"{r['titles']:,} titles asked: {r['received']:,} received, {r['valid']:,} valid, "
                           f"{r['rejected']} rejected" for r in memory["rows"]) + ".")
    lines += ["", (f"Goal (the folder's own parse cost < {GOAL_S:.0f} s): **met**, median {own:.3f} s, slowest "
                   f"{parse['own']['max']:.3f} s." if met else
                   f"Goal (the folder's own parse cost < {GOAL_S:.0f} s): **missed**: median {own:.3f} s, slowest "
                   f"{parse['own']['max']:.3f} s.")
              + f" With Airflow's own imports the folder takes {parse['total']['median']:.2f} s in a fresh process: "
              "that fixed cost is Airflow's own, paid by any DAG folder."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per parse measurement")
    parser.add_argument("--titles", default="1000,2000", help="titles for the memory runs, comma-separated")
    parser.add_argument("--smoke", action="store_true", help="1 repeat, 100 titles; prints, writes no report")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        (_child_memory if "step" in spec else _child_parse)(spec)
        return 0
    repeats = 1 if args.smoke else args.repeats
    sizes = [100] if args.smoke else [int(t) for t in args.titles.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ad_bench_parse_") as tmp:
        home = Path(tmp)
        print(f"parse: {repeats} repeat(s) ...", flush=True)
        parse = measure_parse(repeats, home, smoke=args.smoke)
        print(f"memory: {', '.join(map(str, sizes))} titles ...", flush=True)
        memory = measure_memory(sizes, home)
    body = tables(parse, memory)
    print(body)
    print(f"({time.perf_counter() - started:.0f} s)")
    if not args.smoke:
        write_section(SECTION, f"## DAG parse time and task memory\n\n{machine_line()} · "
                               f"`python -m bench.parse_and_memory --repeats {repeats} --titles {args.titles}`\n\n{body}")
        print(f"wrote {REPORT}")
    if parse["own"]["median"] >= GOAL_S:
        print(f"parse goal missed: the folder's own cost is {parse['own']['median']:.3f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
