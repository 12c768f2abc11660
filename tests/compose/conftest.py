"""The compose stack a module boots: docker-compose.yaml for real (tests/compose_stack.py), one per module that
asks for it, taken down with its volumes whatever happens; what it measured is printed at the end."""
from __future__ import annotations

import pytest

from compose_stack import ComposeStack


@pytest.fixture(scope="module")
def stack(request):
    s = ComposeStack()
    try:
        s.build()
        s.timings["first_up_s"] = s.up()
        yield s
    finally:
        s.cleanup()
        print(f"\n{request.module.__name__} timings: {s.timings}")
