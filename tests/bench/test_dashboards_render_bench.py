"""The dashboard render benchmark (bench/dashboards_render.py)
still runs, at smoke size; the figures themselves are not asserted."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from support import ROOT

pytestmark = pytest.mark.slow  # a benchmark's smoke run: make test-fast leaves it out


def test_the_dashboard_render_benchmark_paints_every_dashboard_warm_and_cold_at_smoke_size(warehouse_db):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "dashboards_render.py"), "--smoke"],
                         env=os.environ.copy(), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = re.findall(r"^\| `([a-z-]+)` \| (\d+) \| ([\d.]+) s \| ([\d.]+) s \| ([\d.]+) s \| ([\d.]+) s \|",
                      out.stdout, flags=re.M)
    assert sorted(r[0] for r in rows) == ["anime-market", "pipeline-health", "trends-and-movers"], out.stdout
    assert all(int(r[1]) >= 5 and all(float(x) > 0 for x in r[2:]) for r in rows)
    assert "Largest ratio" in out.stdout
