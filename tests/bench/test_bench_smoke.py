"""The benchmark scripts still run (at a smoke size; the figures themselves are not asserted)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from support import ROOT

pytestmark = pytest.mark.slow  # a benchmark's smoke run: make test-fast leaves it out


def test_the_dashboard_query_benchmark_runs_every_query_at_smoke_size(warehouse_db):
    env = os.environ.copy()  # AIRFLOW_CONN_WAREHOUSE names the server the scratch databases go on
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "analytics_queries.py"), "--smoke"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    names = re.findall(r"^-- name: (\S+)", (ROOT / "bench" / "dashboard_queries.sql").read_text(), flags=re.M)
    assert len(names) >= 15
    for name in names:
        assert f"| `{name}` |" in out.stdout, name
    assert "EXPLAIN (ANALYZE, BUFFERS)" in out.stdout and "Execution Time" in out.stdout
