"""The Superset cache benchmark still runs (smoke size; its figures are written down, not asserted)."""
from __future__ import annotations

import os
import subprocess
import sys

from support import ROOT


def test_the_superset_cache_benchmark_times_every_chart_computed_and_cached_at_smoke_size(warehouse_db):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "superset_cache.py"), "--smoke"],
                         env=os.environ.copy(), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    table = [line for line in out.stdout.splitlines() if line.startswith("| ") and line.endswith("x |")]
    charts = len(list((ROOT / "superset" / "assets" / "charts").glob("*.yaml")))
    assert len(table) == charts, out.stdout[-3000:]
    assert "Median ratio" in out.stdout
