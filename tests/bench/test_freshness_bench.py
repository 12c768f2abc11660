"""The freshness benchmark (bench/freshness.py)
still runs, at smoke size; the figures themselves are not asserted."""
from __future__ import annotations

import re

import pytest


def test_the_freshness_benchmark_runs_make_run_and_finds_every_chart_fresh_at_smoke_size(smoke_run):
    stdout = smoke_run("freshness", timeout=900)
    (row,) = re.findall(r"^\| \*\*([\d.]+) s\*\* \| (\d+) \| ([\d.]+) s \| \*\*([\d.]+)\*\*", stdout, flags=re.M)
    seconds, requests, floor, ratio = float(row[0]), int(row[1]), float(row[2]), float(row[3])
    assert seconds > 0
    assert requests >= 4 and floor == pytest.approx(requests / 58 * 60, abs=0.1)
    assert ratio == pytest.approx(seconds / floor, abs=0.01)
    assert "| `jikan_top_anime` |" in stdout
