"""Benchmark: the test suite's wall time (`make test`, scripts/test.sh) at an old commit against a new one.

    python -m bench.test_suite                          # 649c39c (before the speed-up work) against HEAD
    python -m bench.test_suite --baseline REV --head REV [--keep] [-- extra pytest args]

Each side, baseline first, then head, back to back: a `git clone` of this repository in a temp dir, checked
out at the side's commit (committed code only: uncommitted changes here are not measured), with this
checkout's .venv and .venv-superset (and .env, if there is one) symlinked in so nothing is reinstalled, and
the clone's include/ first on PYTHONPATH so that its own code is the one tested. There scripts/test.sh runs
with junit reports (--junitxml; ANIME_DASHBOARD_TEST_JUNIT instead where the clone's scripts/test.sh takes
it, as it runs pytest more than once); its output goes to <tmp>/<side>.log. Wall time and pytest's exit
code come from the line scripts/test.sh ends with, counts and per-test times (setup + call + teardown) from
the junit reports.

Writes the `test-suite` section of docs/benchmarks.md and tests/durations.json (seconds per test at head; the
test scheduler sums them per work unit, a test module or all of tests/superset as one, to pack the workers). Failing
tests do not stop the run: they are listed in the section and in a warning; the exit status is non-zero only
if a side could not run at all. --keep keeps the temp dirs (clones, logs, junit reports).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import machine_line, write_section

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "649c39c"  # the commit before the test-suite speed-up work
LINKED = (".venv", ".venv-superset", ".env")  # the first two must exist
INSTALL_INPUTS = ("requirements.txt", "pyproject.toml", "superset/requirements.txt")  # what the venvs' stamps follow
FINAL_LINE = re.compile(r"make test: pytest exit (\d+), wall time (\d+) s")
SLOWEST = 20


@dataclass
class Side:
    """One side's run: what ran and what the junit report says (test id -> seconds, outcome)."""
    name: str
    rev: str
    sha: str
    exit_code: int = 0
    wall_s: float = 0.0
    times: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)

    def count(self, *outcomes: str) -> int:
        return sum(o in outcomes for o in self.outcomes.values())

    def failed(self) -> list[str]:
        return sorted(t for t, o in self.outcomes.items() if o in ("failed", "error"))


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def checkout(sha: str, tmp: Path) -> Path:
    """A clone of this repository at ``sha`` in ``tmp``/repo, this checkout's virtualenvs linked in."""
    clone = tmp / "repo"
    git("clone", "-q", str(REPO), str(clone))
    git("checkout", "-q", sha, cwd=clone)
    for name in LINKED:
        if (REPO / name).exists():
            (clone / name).symlink_to(REPO / name)
    # make rebuilds a virtualenv whose stamp is older than its requirements: the clone's files are as new as
    # the clone, so they get this checkout's times, which the linked virtualenvs' stamps are newer than
    for name in INSTALL_INPUTS:
        mine, theirs = REPO / name, clone / name
        if mine.exists() and theirs.exists():
            stat = mine.stat()
            os.utime(theirs, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return clone


def suite_env(clone: Path) -> dict[str, str]:
    """os.environ with the clone's code first; variables pointing into this checkout (as scripts/env.sh sets
    them when the caller sourced it: AIRFLOW_HOME, the DAGs folder...) are left out so the clone sets its own."""
    env = {k: v for k, v in os.environ.items() if k == "PATH" or str(REPO) not in v}
    env["VENV"] = str(REPO / ".venv")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(clone / "include"), env.get("PYTHONPATH")]))
    return env


def test_id(classname: str, name: str, clone: Path) -> str:
    """pytest's junit ``classname`` (dotted module path, then any classes) and ``name`` back to a node id."""
    parts = classname.split(".")
    for i in range(len(parts), 0, -1):
        if (clone / "/".join(parts[:i])).with_suffix(".py").is_file():
            return "::".join(["/".join(parts[:i]) + ".py", *parts[i:], name])
    return f"{classname.replace('.', '/')}.py::{name}" if classname else name  # empty outside the rootdir


def parse_junit(path: Path, clone: Path, side: Side) -> None:
    for case in ET.parse(path).iter("testcase"):
        tid = test_id(case.get("classname", ""), case.get("name", ""), clone)
        side.times[tid] = side.times.get(tid, 0.0) + float(case.get("time") or 0)
        tags = {child.tag for child in case}
        outcome = next((o for t, o in (("error", "error"), ("failure", "failed"), ("skipped", "skipped"))
                        if t in tags), "passed")
        if side.outcomes.get(tid) not in ("failed", "error"):  # a test may appear twice (teardown error)
            side.outcomes[tid] = outcome


def resolve(rev: str) -> tuple[str, str]:
    """(full, short) sha of ``rev`` in this repository."""
    try:
        return git("rev-parse", f"{rev}^{{commit}}"), git("rev-parse", "--short", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"{rev!r} is not a commit of {REPO}") from None


def run_side(name: str, rev: str, tmp: Path, pytest_args: list[str]) -> Side:
    """Clone at ``rev``, run scripts/test.sh there, read its last line and its junit report."""
    full, short = resolve(rev)
    side = Side(name, rev, short)
    clone = checkout(full, tmp)
    log_path, env, command = tmp / f"{name}.log", suite_env(clone), ["scripts/test.sh", "-p", "no:cacheprovider"]
    if "ANIME_DASHBOARD_TEST_JUNIT" in (clone / "scripts" / "test.sh").read_text():
        env["ANIME_DASHBOARD_TEST_JUNIT"] = str(tmp / "junit")  # several pytest passes: junit-<pass>.xml each
    else:
        command.append(f"--junitxml={tmp / 'junit.xml'}")
    print(f"{name} {side.sha}: running scripts/test.sh in {clone} (log {log_path})", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.run(command + pytest_args, cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
    side.exit_code, side.wall_s = proc.returncode, time.monotonic() - t0
    found = FINAL_LINE.findall(log_path.read_text(errors="replace"))
    if found:
        side.exit_code, side.wall_s = int(found[-1][0]), float(found[-1][1])
    reports = sorted(tmp.glob("junit*.xml"))
    if not reports:
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise SystemExit(f"{name} {side.sha}: scripts/test.sh exit {proc.returncode} without a junit report; "
                         f"the end of {log_path}:\n{tail}")
    for path in reports:
        parse_junit(path, clone, side)
    print(f"{name} {side.sha}: pytest exit {side.exit_code}, {side.wall_s:.0f} s, {len(side.outcomes)} tests",
          file=sys.stderr, flush=True)
    return side


def work_units(side: Side) -> dict[str, tuple[float, int]]:
    """{work unit: (seconds, tests)}: a test module, or everything under tests/superset/ as one unit."""
    units: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for tid, seconds in side.times.items():
        unit = "tests/superset" if tid.startswith("tests/superset/") else tid.split("::")[0]
        units[unit][0] += seconds
        units[unit][1] += 1
    return {u: (s, n) for u, (s, n) in sorted(units.items(), key=lambda kv: -kv[1][0])}


def slowest_table(side: Side) -> list[str]:
    ranked = sorted(side.times.items(), key=lambda kv: -kv[1])[:SLOWEST]
    return ["| test | s | rank |", "|---|---:|---:|"] + [
        f"| `{tid}` | {s:.2f} | {i} |" for i, (tid, s) in enumerate(ranked, 1)]


def report(base: Side, head: Side, command: str) -> str:
    lines = ["## Test suite wall time", "", machine_line(), "",
             f"`{command}` (`make bench-tests` runs it with the defaults): `make test` (scripts/test.sh) in a "
             f"fresh clone at each commit, baseline then head back to back, the same virtualenvs. Wall time as "
             f"scripts/test.sh prints it (pytest only); per-test seconds from pytest's junit reports (setup + "
             f"call + teardown).", "",
             "| side | commit | pytest wall time s | tests | passed | failed+errors | skipped/xfailed |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for s in (base, head):
        lines.append(f"| {s.name} | `{s.sha}` | {s.wall_s:.0f} | {len(s.outcomes)} | {s.count('passed')} | "
                     f"{s.count('failed', 'error')} | {s.count('skipped')} |")
    ratio = f"{head.wall_s / base.wall_s:.2f}" if base.wall_s else "n/a (baseline took 0 s)"
    lines += ["", f"ratio new/old: {ratio}", "",
              f"Sum of per-test seconds: baseline {sum(base.times.values()):.0f}, head {sum(head.times.values()):.0f}."]
    for s in (base, head):
        if s.exit_code or s.failed():
            lines += ["", f"**{s.name} `{s.sha}`: pytest exit {s.exit_code}**"
                          + (", failed: " + ", ".join(f"`{t}`" for t in s.failed()) if s.failed() else "")]
    lines += ["", f"{SLOWEST} slowest tests, before:", "", *slowest_table(base),
              "", f"{SLOWEST} slowest tests, after:", "", *slowest_table(head),
              "", "Time per work unit, head (tests/durations.json records the seconds of each test):", "",
              "| work unit | s | tests |", "|---|---:|---:|"]
    lines += [f"| `{u}` | {s:.2f} | {n} |" for u, (s, n) in work_units(head).items()]
    return "\n".join(lines)


def write_durations(side: Side, path: Path = REPO / "tests" / "durations.json") -> None:
    """{test id: seconds} (tests/conftest.py sums a work unit's selected tests to pack the workers)."""
    durations = {tid: round(s, 2) for tid, s in side.times.items()}
    path.write_text(json.dumps(durations, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help=f"old commit (default {DEFAULT_BASELINE})")
    parser.add_argument("--head", default="HEAD", help="new commit (default HEAD)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (clones, logs, junit reports)")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed on to pytest")
    args = parser.parse_args(argv)
    missing = [name for name in LINKED[:2] if not (REPO / name).is_dir()]
    if missing:
        raise SystemExit(f"{', '.join(missing)} missing in {REPO}: run make install first")
    command = " ".join(["python -m bench.test_suite", "--baseline", args.baseline, "--head", args.head]
                       + (["--", *args.pytest_args] if args.pytest_args else []))
    for rev in (args.baseline, args.head):  # a typo in --head must not cost a whole baseline run
        resolve(rev)
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "include", "sql", "dags", "plugins",
                "superset", "scripts")
    if dirty:  # the virtualenvs' editable install is this checkout: some tests' subprocesses run its code
        raise SystemExit("uncommitted changes in what the suite runs (both sides would see them through the "
                         f"virtualenvs' editable install); commit or stash them first:\n{dirty}")
    tmps: list[Path] = []
    try:
        sides = []
        for name, rev in (("baseline", args.baseline), ("head", args.head)):
            tmps.append(Path(tempfile.mkdtemp(prefix="ad_suite_")))
            sides.append(run_side(name, rev, tmps[-1], args.pytest_args))
    finally:
        for tmp in tmps:
            if args.keep:
                print(f"kept {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    write_section("test-suite", report(*sides, command))
    write_durations(sides[1])
    print("wrote docs/benchmarks.md and tests/durations.json")
    for s in (s for s in sides if s.exit_code or s.failed()):
        print(f"\n*** WARNING: {s.name} {s.sha}: pytest exit {s.exit_code}, {len(s.failed())} failed (the figures "
              f"were still written) ***", *s.failed(), sep="\n  ", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
