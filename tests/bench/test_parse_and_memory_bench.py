"""The parse-time and task-memory benchmark still runs (at smoke size; the figures are not asserted)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support import ROOT

pytestmark = pytest.mark.slow  # a benchmark's smoke run: make test-fast leaves it out


def test_the_parse_and_memory_benchmark_runs_at_smoke_size(warehouse_db):
    env = os.environ.copy()  # AIRFLOW_CONN_WAREHOUSE names the server the scratch database goes on
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "parse_and_memory.py"), "--smoke"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for dag_file in sorted((ROOT / "dags").glob("*.py")):
        assert f"| `dags/{dag_file.name}` |" in out.stdout, dag_file.name
    assert "the folder's own cost" in out.stdout
    for step in ("extract", "validate"):
        assert f"| {step} | 100 | 4 |" in out.stdout, step
    assert "Goal (the folder's own parse cost < 1 s)" in out.stdout
