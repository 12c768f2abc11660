"""docs/benchmarks.md: each benchmark owns one section between ``<!-- <name>:start -->`` and
``<!-- <name>:end -->`` and rewrites only that (under a file lock, so benchmarks may run side by side)."""
from __future__ import annotations

import fcntl
import platform
from datetime import datetime, timezone
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = ("# Benchmarks\n\nFigures from the scripts in `bench/`, each run on one machine in one go "
          "(compare within a table, not across machines). `make bench` runs them all.\n")


def machine_line() -> str:
    """Machine and date, for the top of a section."""
    import os

    return (f"{platform.node()} · {platform.system()} {platform.machine()} · {os.cpu_count()} CPUs · "
            f"Python {platform.python_version()} · {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")


def write_section(name: str, body: str, path: Path = REPORT) -> None:
    """Replace (or append) the section ``name`` of the report with ``body`` (markers added here)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.strip()}\n{end}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text(encoding="utf-8") if path.exists() else HEADER
        if start in text and end in text:
            text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        path.write_text(text, encoding="utf-8")
