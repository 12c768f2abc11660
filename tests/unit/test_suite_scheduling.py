"""How `make test` spreads the suite over its pytest-xdist workers (tests/conftest.py's scheduler hook)."""
from __future__ import annotations

import json
import re

from support import ROOT, pack_work_units, unit_seconds, work_unit


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


def test_a_work_unit_counts_only_its_selected_tests_and_one_second_for_a_test_not_recorded():
    durations = {"tests/a.py::t1": 100.0, "tests/a.py::t2": 5.0, "tests/superset/b.py::t": 7.0,
                 "tests/superset/c.py::t[x]": 3.0}
    selected = ["tests/a.py::t2", "tests/superset/b.py::t", "tests/superset/c.py::t[x]", "tests/superset/c.py::new"]
    assert unit_seconds(selected, durations) == {"tests/a.py": 5.0, "tests/superset": 11.0}


def test_the_recorded_durations_are_node_ids_of_this_suites_test_files():
    recorded = json.loads((ROOT / "tests" / "durations.json").read_text())
    files = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")}
    assert len(recorded) > 400 and all("::" in t for t in recorded)
    assert {t.split("::")[0] for t in recorded} <= files, "tests/durations.json names test files that are gone"
    assert all(isinstance(s, (int, float)) and s >= 0 for s in recorded.values())
    assert {work_unit(t.split("::")[0]) for t in recorded} >= {"tests/superset", "tests/unit/test_replay.py"}


def test_every_module_that_boots_a_compose_stack_runs_on_the_same_worker():
    imports_the_stack = re.compile(r"^from compose_stack import .*\bComposeStack\b", re.M)
    booting = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                     if imports_the_stack.search(p.read_text(encoding="utf-8")))
    assert len(booting) >= 2, booting
    assert {work_unit(m) for m in booting} == {"tests/compose (stacks)"}
    assert work_unit("tests/compose/test_compose_file.py") == "tests/compose/test_compose_file.py"
