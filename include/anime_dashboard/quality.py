"""Data quality checks run after each upsert, as data: the DAG turns them into common-sql check operators.

Each check is evaluated on the snapshot just loaded (one snapshot type and date); a failing check fails
the run in the Airflow UI (and the run's outcome becomes ``failed`` in ``analytics.pipeline_runs``).
"""
from __future__ import annotations

from anime_dashboard.snapshots import SnapshotType

TABLE = "core.anime_snapshots"

# SQLTableCheckOperator: name -> {"check_statement": boolean SQL over the partition}
TABLE_CHECKS: dict[str, dict[str, str]] = {
    "has_rows": {"check_statement": "COUNT(*) > 0"},
    "list_positions_are_1_to_n": {
        "check_statement": "MIN(list_position) = 1 AND MAX(list_position) = COUNT(*) "
                           "AND COUNT(DISTINCT list_position) = COUNT(*)"},
    "titles_are_named": {"check_statement": "COUNT(*) FILTER (WHERE btrim(title) = '') = 0"},
}

# SQLColumnCheckOperator: column -> {check: {comparison: value}}
COLUMN_CHECKS: dict[str, dict[str, dict[str, float]]] = {
    "mal_id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}, "min": {"greater_than": 0}},
    "score": {"min": {"geq_to": 0}, "max": {"leq_to": 10}},
    "members": {"min": {"geq_to": 0}},
    "scored_by": {"min": {"geq_to": 0}},
    "favorites": {"min": {"geq_to": 0}},
}


def partition_clause_template(snapshot: SnapshotType) -> str:
    """WHERE clause selecting the snapshot the upsert task returned, rendered by Airflow at run time (the
    ``DATE '...'`` literal makes a malformed value an error, not SQL)."""
    if not snapshot.name.isidentifier():
        raise ValueError(f"unexpected snapshot type name {snapshot.name!r}")
    return (f"snapshot_type = '{snapshot.name}' AND snapshot_date = "
            "DATE '{{ ti.xcom_pull(task_ids='upsert')['snapshot_date'] }}'")
