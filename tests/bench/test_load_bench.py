"""The load benchmark (validate + upsert against COPY) still runs, at smoke size; figures not asserted."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from anime_dashboard.snapshots import PAGE_SIZE, SNAPSHOT_TYPES
from support import ROOT

pytestmark = pytest.mark.slow  # a benchmark's smoke run: make test-fast leaves it out

SMOKE_ROWS = 4 * sum(s.max_pages * PAGE_SIZE for s in SNAPSHOT_TYPES)  # 4 days of the DAGs' full lists


def test_the_load_benchmark_measures_insert_update_and_copy_at_smoke_size(warehouse_db):
    env = os.environ.copy()  # AIRFLOW_CONN_WAREHOUSE names the server the scratch database goes on
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--smoke"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "## Load: validate + upsert against COPY" in out.stdout
    rates = {}
    for label, key in (("insert run (every row new)", "insert"), ("rerun (every row an update)", "update"),
                       ("COPY into an UNLOGGED table", "copy")):
        row = re.search(r"^\|[^|\n]*" + re.escape(label) + r"[^|\n]*\| ([\d,]+) \| [\d.]+ s \| ([\d,]+) \|",
                        out.stdout, flags=re.M)
        assert row, f"no table row for {label}:\n{out.stdout[-3000:]}"
        assert int(row.group(1).replace(",", "")) == SMOKE_ROWS
        rates[key] = int(row.group(2).replace(",", ""))
    assert all(rate > 0 for rate in rates.values()), rates
    assert "rows/s" in out.stdout and "× its paired COPY" in out.stdout
    assert "`core.upkeep_titles`" in out.stdout  # the step breakdown is there
