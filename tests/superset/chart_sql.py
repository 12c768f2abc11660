"""An independent reading of a chart's saved query_context as plain SQL on its analytics view.

The dashboards' charts keep to a simple subset of Superset's query language (plain columns, saved or
SIMPLE adhoc metrics, simple filters, order, row limit, no post-processing); anything outside it fails
loudly here, so a chart that cannot be checked this way cannot slip through unchecked.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from psycopg2 import sql

AGGREGATES = {"SUM": "sum({})", "AVG": "avg({})", "MAX": "max({})", "MIN": "min({})", "COUNT": "count({})",
              "COUNT_DISTINCT": "count(DISTINCT {})"}
OPERATORS = {"==": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


# the trends charts' window: a year back from today, today included (Superset's "Last year" ends at midnight)
NEWEST_YEAR = 'DATEADD(DATETIME("today"), -1, year) : DATEADD(DATETIME("today"), 1, day)'


class Unsupported(AssertionError):
    pass


def chart_query(chart: dict[str, Any]) -> dict[str, Any]:
    """The one query of a chart's saved query_context (GET /api/v1/chart/{id} result)."""
    if not chart.get("query_context"):
        raise Unsupported(f"chart {chart['slice_name']!r} has no query_context")
    qc = json.loads(chart["query_context"])
    if len(qc.get("queries", [])) != 1:
        raise Unsupported(f"chart {chart['slice_name']!r}: expected one query, got {len(qc.get('queries', []))}")
    q = qc["queries"][0]
    for key in ("post_processing", "time_offsets", "series_columns"):
        if q.get(key):
            raise Unsupported(f"chart {chart['slice_name']!r}: {key} is outside the checked subset")
    if q.get("is_timeseries") or (q.get("extras") or {}).get("where") or (q.get("extras") or {}).get("having"):
        raise Unsupported(f"chart {chart['slice_name']!r}: timeseries/free SQL is outside the checked subset")
    return q


def _metric(metric: Any, saved: dict[str, str]) -> tuple[sql.Composable, str]:
    if isinstance(metric, str):
        if metric not in saved:
            raise Unsupported(f"metric {metric!r} is not a saved metric of the dataset")
        return sql.SQL(saved[metric]), metric
    if metric.get("expressionType") != "SIMPLE" or metric.get("aggregate") not in AGGREGATES:
        raise Unsupported(f"adhoc metric {metric!r} is outside the checked subset")
    column = sql.Identifier(metric["column"]["column_name"])
    return sql.SQL(AGGREGATES[metric["aggregate"]]).format(column), metric["label"]


def to_sql(q: dict[str, Any], schema: str, table: str, saved_metrics: dict[str, str]) -> tuple[sql.Composed, list]:
    columns = [c if isinstance(c, str) else None for c in q.get("columns") or []]
    if None in columns:
        raise Unsupported(f"adhoc column in {q.get('columns')}")
    metrics = [_metric(m, saved_metrics) for m in q.get("metrics") or []]
    items = [sql.Identifier(c) for c in columns]
    items += [sql.SQL("{} AS {}").format(expr, sql.Identifier(label)) for expr, label in metrics]
    where, params = [], []
    for f in q.get("filters") or []:
        col, op = sql.Identifier(f["col"]), f["op"]
        if op in OPERATORS:
            where.append(sql.SQL("{} {} %s").format(col, sql.SQL(OPERATORS[op])))
            params.append(f["val"])
        elif op in ("IN", "NOT IN"):
            where.append(sql.SQL("{} {}(%s)").format(col, sql.SQL("= ANY" if op == "IN" else "<> ALL")))
            params.append(list(f["val"]))
        elif op in ("IS NULL", "IS NOT NULL"):
            where.append(sql.SQL("{} {}").format(col, sql.SQL(op)))
        elif op == "TEMPORAL_RANGE" and f.get("val") in (None, "No filter"):
            continue
        elif op == "TEMPORAL_RANGE" and f.get("val") == NEWEST_YEAR:
            where.append(sql.SQL("{} >= current_date - interval '1 year' AND {} < current_date + 1").format(col, col))
        else:
            raise Unsupported(f"filter {f!r} is outside the checked subset")
    labels = {label for _, label in metrics} | set(columns)
    order = []
    for key, ascending in q.get("orderby") or []:
        label = key if isinstance(key, str) else key.get("label")
        if label not in labels:
            raise Unsupported(f"orderby {key!r} is not one of the query's columns or metrics")
        order.append(sql.SQL("{} {}").format(sql.Identifier(label), sql.SQL("ASC" if ascending else "DESC")))
    text = sql.SQL("SELECT {} FROM {}.{}").format(sql.SQL(", ").join(items), sql.Identifier(schema),
                                                  sql.Identifier(table))
    if where:
        text += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    if metrics and columns:
        text += sql.SQL(" GROUP BY ") + sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    if order:
        text += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order)
    if q.get("row_limit"):
        text += sql.SQL(" LIMIT {}").format(sql.Literal(int(q["row_limit"])))
    return text, params


def canonical(value: Any) -> Any:
    """One comparable form for a value from Postgres or from Superset's JSON (dates as epoch ms)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(f"{float(value):.12g}")  # 12 significant digits: JSON floats vs. numeric/timestamps
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return canonical(value.timestamp() * 1000)
    if isinstance(value, date):
        return canonical(datetime(value.year, value.month, value.day, tzinfo=timezone.utc))
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            return canonical(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return value


def rows(records: list[dict[str, Any]], ordered: bool) -> list[tuple]:
    out = [tuple(sorted((k, canonical(v)) for k, v in r.items())) for r in records]
    return out if ordered else sorted(out, key=repr)
