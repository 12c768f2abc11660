"""The parse-time and task-memory benchmark still runs (at smoke size; the figures are not asserted)."""
from __future__ import annotations

from support import ROOT


def test_the_parse_and_memory_benchmark_runs_at_smoke_size(smoke_run):
    stdout = smoke_run("parse_and_memory")
    for dag_file in sorted((ROOT / "dags").glob("*.py")):
        assert f"| `dags/{dag_file.name}` |" in stdout, dag_file.name
    assert "the folder's own cost" in stdout
    for step in ("extract", "validate"):
        assert f"| {step} | 100 | 4 |" in stdout, step
    assert "Goal (the folder's own parse cost < 1 s)" in stdout
