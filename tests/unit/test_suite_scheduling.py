"""How `make test` spreads the suite over its pytest-xdist workers (tests/conftest.py's scheduler hook)."""
from __future__ import annotations

import json

from support import ROOT, pack_work_units, work_unit


def test_work_units_are_packed_longest_first_onto_the_least_loaded_worker():
    durations = {"a": 300.0, "b": 250.0, "c": 200.0, "d": 120.0, "e": 80.0, "f": 50.0}
    groups = pack_work_units(set(durations) | {"new"}, 3, durations)
    members = {g: sorted(u for u in groups if groups[u] == g) for g in set(groups.values())}
    # a, b, c open the three groups; d onto c (200), e onto b (250), f onto a (300), new (1 s) onto c + d (320)
    assert sorted(members.values()) == [["a", "f"], ["b", "e"], ["c", "d", "new"]]
    totals = sorted(sum(durations.get(u, 1.0) for u in m) for m in members.values())
    assert totals == [321.0, 330.0, 350.0]


def test_fewer_work_units_than_workers_make_one_group_each():
    assert sorted(pack_work_units({"x", "y"}, 3, {}).values()) == ["group-0", "group-1"]
    assert pack_work_units({"x"}, 0, {}) == {"x": "group-0"}


def test_the_recorded_durations_name_only_work_units_of_this_suite():
    recorded = json.loads((ROOT / "tests" / "durations.json").read_text())
    units = {work_unit(str(p.relative_to(ROOT))) for p in (ROOT / "tests").rglob("test_*.py")}
    assert set(recorded) - units == set(), "tests/durations.json names units that no longer exist"
    assert all(isinstance(s, (int, float)) and s >= 0 for s in recorded.values())
