"""The benchmark scripts still run (at a smoke size; the figures themselves are not asserted)."""
from __future__ import annotations

import re

from support import ROOT


def test_the_dashboard_query_benchmark_runs_every_query_at_smoke_size(smoke_run):
    stdout = smoke_run("analytics_queries")
    names = re.findall(r"^-- name: (\S+)", (ROOT / "bench" / "dashboard_queries.sql").read_text(), flags=re.M)
    assert len(names) >= 15
    for name in names:
        assert f"| `{name}` |" in stdout, name
    assert "EXPLAIN (ANALYZE, BUFFERS)" in stdout and "Execution Time" in stdout
