"""The Superset cache benchmark still runs (smoke size; its figures are written down, not asserted)."""
from __future__ import annotations

from support import ROOT


def test_the_superset_cache_benchmark_times_every_chart_computed_and_cached_at_smoke_size(smoke_run):
    stdout = smoke_run("superset_cache", timeout=900)
    lines = stdout.splitlines()
    start = lines.index("| chart | rows | GET computed ms | GET cached ms | GET ratio | POST computed ms | "
                        "POST cached ms | POST ratio |")
    table = [line for line in lines[start + 2:] if line.startswith("| ")]
    table = table[:next((i for i, line in enumerate(table) if not line.endswith("x |")), len(table))]
    charts = len(list((ROOT / "superset" / "assets" / "charts").glob("*.yaml")))
    assert len(table) == charts, stdout[-3000:]
    assert "Median ratio GET" in stdout
    # both smoke setups ran side by side: the SQLite/stdout default and a Postgres metadata DB with DB events
    setups = [line for line in lines if line.startswith("| `")]
    assert [line.split("`")[1] for line in setups] == ["stdout/sqlite", "db/postgres"], stdout[-3000:]
    assert "### Findings" in stdout
    assert "charts reach 20x through POST" in stdout and "measured" in stdout, stdout[-3000:]
