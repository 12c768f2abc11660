"""The daily cost benchmark (bench/daily_cost.py)
still runs, at smoke size; the figures themselves are not asserted."""
from __future__ import annotations

import re


def test_the_daily_cost_benchmark_loads_new_days_on_each_history_size_at_smoke_size(smoke_run):
    stdout = smoke_run("daily_cost")
    rows = re.findall(r"^\| (\d+) days \| ([\d,]+) \| \*\*([\d.]+) s\*\* \|", stdout, flags=re.M)
    assert [r[0] for r in rows] == ["5", "10"], stdout
    assert all(float(r[2]) > 0 for r in rows)
    assert "for one new day (goal <= 1.2" in stdout
