"""The data dictionary of the ``analytics`` schema, generated from its ``COMMENT ON`` texts.

``anime-dashboard data-dictionary`` prints it; ``docs/data_dictionary.md`` is its committed output, and a
test keeps the two in sync (regenerate with ``make docs`` after changing a view).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from anime_dashboard.warehouse.db import query

SCHEMA = "analytics"


@dataclass
class Column:
    name: str
    data_type: str
    comment: str | None


@dataclass
class View:
    name: str
    kind: str
    comment: str | None
    columns: list[Column] = field(default_factory=list)


def read_views(conn, schema: str = SCHEMA) -> list[View]:
    views: dict[str, View] = {}
    with conn.cursor() as cur:
        cur.execute(query("analytics_dictionary"), {"schema": schema})
        for name, kind, view_comment, _pos, column, data_type, column_comment in cur.fetchall():
            view = views.setdefault(name, View(name, kind, view_comment))
            view.columns.append(Column(column, data_type, column_comment))
    return list(views.values())


def undocumented(views: list[View]) -> list[str]:
    """``view`` or ``view.column`` names that have no comment."""
    missing = [v.name for v in views if not (v.comment or "").strip()]
    missing += [f"{v.name}.{c.name}" for v in views for c in v.columns if not (c.comment or "").strip()]
    return missing


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_markdown(views: list[View], schema: str = SCHEMA) -> str:
    lines = [
        f"# Data dictionary: the `{schema}` schema",
        "",
        "Generated from the `COMMENT ON` texts in `sql/analytics/` by `anime-dashboard data-dictionary`;",
        "do not edit by hand (a test fails when this file and the views disagree; `make docs` regenerates it).",
        "Every view is readable by the analyst role; nothing outside this schema is. Rows marked",
        "`is_synthetic` come from the history generator (real titles with a synthetic drift), not from Jikan.",
        "",
        "| view | kind | what one row is |",
        "|---|---|---|",
    ]
    lines += [f"| [`{v.name}`](#{v.name}) | {v.kind} | {_cell(v.comment)} |" for v in views]
    for v in views:
        lines += ["", f"## {v.name}", "", f"*{v.kind}* `{schema}.{v.name}`: {_cell(v.comment)}", "",
                  "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.data_type} | {_cell(c.comment)} |" for c in v.columns]
    return "\n".join(lines) + "\n"
