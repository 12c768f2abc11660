"""The backup benchmark (bench/backup.py) still runs, at smoke size; the figures themselves are not asserted."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from support import ROOT

pytestmark = pytest.mark.slow  # a benchmark's smoke run: make test-fast leaves it out


def test_the_backup_benchmark_backs_up_verifies_and_restores_each_history_size_at_smoke_size(warehouse_db):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "backup.py"), "--smoke"], env=os.environ.copy(),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = re.findall(r"^\| (\d+) days \| ([\d,]+) \| [\d,]+ MB \| ([\d.]+) s \|", out.stdout, flags=re.M)
    assert [r[0] for r in rows] == ["5", "10"], out.stdout
    assert all(float(r[2]) > 0 for r in rows)
    assert "backup + verification" in out.stdout and "(goal <= 900 s" in out.stdout
