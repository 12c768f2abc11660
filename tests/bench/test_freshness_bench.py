"""The freshness benchmark (bench/freshness.py)
still runs, at smoke size; the figures themselves are not asserted."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from support import ROOT

pytestmark = pytest.mark.slow  # a benchmark's smoke run: make test-fast leaves it out


def test_the_freshness_benchmark_runs_make_run_and_finds_every_chart_fresh_at_smoke_size(warehouse_db):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "freshness.py"), "--smoke"], env=os.environ.copy(),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]  # 1: a chart was not fresh
    (row,) = re.findall(r"^\| \*\*([\d.]+) s\*\* \| (\d+) \| ([\d.]+) s \| \*\*([\d.]+)\*\*", out.stdout, flags=re.M)
    seconds, requests, floor, ratio = float(row[0]), int(row[1]), float(row[2]), float(row[3])
    assert seconds > 0
    assert requests >= 4 and floor == pytest.approx(requests / 58 * 60, abs=0.1)
    assert ratio == pytest.approx(seconds / floor, abs=0.01)
    assert "| `jikan_top_anime` |" in out.stdout
