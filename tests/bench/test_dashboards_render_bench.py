"""The dashboard render benchmark (bench/dashboards_render.py)
still runs, at smoke size; the figures themselves are not asserted."""
from __future__ import annotations

import re


def test_the_dashboard_render_benchmark_paints_every_dashboard_warm_and_cold_at_smoke_size(smoke_run):
    stdout = smoke_run("dashboards_render", timeout=900)
    rows = re.findall(r"^\| `([a-z-]+)` \| (\d+) \| ([\d.]+) s \| ([\d.]+) s \| ([\d.]+) s \| ([\d.]+) s \|",
                      stdout, flags=re.M)
    assert sorted(r[0] for r in rows) == ["anime-market", "pipeline-health", "trends-and-movers"], stdout
    assert all(int(r[1]) >= 5 and all(float(x) > 0 for x in r[2:]) for r in rows)
    assert "Largest ratio" in stdout
