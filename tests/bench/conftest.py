"""The benchmarks' smoke runs: each test runs one benchmark at its smoke size and checks what it printed (the
figures themselves depend on the machine and are not asserted). make test-fast leaves them out (marker slow)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support import ROOT


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.parent == ROOT / "tests" / "bench":
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def smoke_run(warehouse_db):
    """``smoke_run(name)``: the stdout of `python -m bench.<name> --smoke` from the repository root, as `make bench`
    runs it; a non-zero exit fails with the end of its output. AIRFLOW_CONN_WAREHOUSE (the session's warehouse)
    names the server its scratch databases go on."""
    def run(name: str, timeout: float = 600) -> str:
        out = subprocess.run([sys.executable, "-m", f"bench.{name}", "--smoke"], cwd=ROOT, env=os.environ.copy(),
                             capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out.stdout
    return run
