"""The package the images install holds only product code, and its modules import each other without a circle.

Imports are read from the source (every ``import`` statement, also inside functions and ``TYPE_CHECKING``
blocks), so a circle counts even where Python would tolerate it at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = ROOT / "include"
PRODUCT_DIRS = [ROOT / "include", ROOT / "dags", ROOT / "plugins", ROOT / "superset"]
TEST_SIDE = {"testkit", "tests", "bench", "support", "conftest", "main_job", "superset_browser"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name an import statement in ``path`` names, relative imports resolved against ``module``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def package_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE_ROOT.rglob("*.py")}
    return {name: {n for n in imported_names(path, name) if n in modules and n != name}
            for name, path in modules.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as the list of its modules, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (circle := visit(nxt)):
                return circle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node)):
            return circle
    return None


def test_product_code_never_imports_test_code():
    offenders = []
    for folder in PRODUCT_DIRS:
        for path in folder.rglob("*.py"):
            for name in imported_names(path, module_name(path) if folder == PACKAGE_ROOT else path.stem):
                if name.split(".")[0] in TEST_SIDE:
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_the_package_has_no_import_circle():
    graph = package_graph()
    assert "anime_dashboard.jikan.replay.server" in graph  # the graph is read from the real tree
    assert find_circle(graph) is None, " -> ".join(find_circle(graph))


def test_a_circle_through_a_type_checking_import_is_found(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from . import a\n")
    graph = {"pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert imported_names(a, "pkg.a") >= {"pkg.b", "pkg.b.B"}
    assert "pkg.a" in imported_names(b, "pkg.b")
    graph["pkg.b"] = {"pkg.a"}
    assert find_circle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
