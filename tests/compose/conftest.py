"""The compose stack the compose tests share: docker-compose.yaml for real (tests/compose_stack.py), booted once for
the session by the first test that asks for it (support.work_unit runs every module that does on one worker, the
boot test's first), taken down with its volumes whatever happens; what it measured is printed at the end."""
from __future__ import annotations

import pytest

from compose_stack import ComposeStack


@pytest.fixture(scope="session")
def stack():
    s = ComposeStack()
    try:
        s.build()
        s.timings["first_up_s"] = s.up()
        yield s
    finally:
        s.cleanup()
        print(f"\ncompose stack timings: {s.timings}")
