"""The backup benchmark (bench/backup.py) still runs, at smoke size; the figures themselves are not asserted."""
from __future__ import annotations

import re


def test_the_backup_benchmark_backs_up_verifies_and_restores_each_history_size_at_smoke_size(smoke_run):
    stdout = smoke_run("backup")
    rows = re.findall(r"^\| (\d+) days \| ([\d,]+) \| [\d,]+ MB \| ([\d.]+) s \|", stdout, flags=re.M)
    assert [r[0] for r in rows] == ["5", "10"], stdout
    assert all(float(r[2]) > 0 for r in rows)
    assert "backup + verification" in stdout and "(goal <= 900 s" in stdout
