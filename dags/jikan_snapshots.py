"""
# Jikan snapshots

Daily snapshots of the anime market from the [Jikan API](https://docs.api.jikan.moe/) (an unofficial
MyAnimeList API) into the Postgres warehouse. One DAG per snapshot type, all built from
`anime_dashboard.snapshots.SNAPSHOT_TYPES`:

| task | does | reruns |
|---|---|---|
| `extract` | pages of `GET /v4/anime` -> `raw.jikan_pages` (pool `jikan_api`, 1 slot) | calls Jikan again, new batch |
| `validate` | pydantic model; valid -> `core.staged_records`, invalid -> `core.rejects` | no Jikan call |
| `upsert` | `core.anime_snapshots` (+ catalog, titles, tag bridge) + `core.run_metrics`, one transaction | no Jikan call |
| `check_snapshot_table`, `check_snapshot_columns` | data quality checks on the loaded snapshot (rows > 0, positions 1..n, `mal_id` unique and not null, score 0-10, counts >= 0); a failure fails the run | read only |
| `publish` | marks the run a success and emits the type's Asset, which triggers `analytics_refresh` | no Jikan call |

The snapshot date is the run's logical date (UTC); a manual run without one uses its start.
Jikan has no history: a run for a date older than yesterday (backfill, cleared old run) **skips**
and leaves the stored snapshot as it was. Every run's outcome (success, failed with the task and error,
skipped) is in `analytics.pipeline_runs`.
"""
# Airflow parses this file (safe mode looks for the words airflow and dag); it only builds the DAGs.
from anime_dashboard.dag_factory import build_snapshot_dag
from anime_dashboard.snapshots import SNAPSHOT_TYPES

for _snapshot in SNAPSHOT_TYPES:
    globals()[_snapshot.dag_id] = build_snapshot_dag(_snapshot, doc_md=__doc__)
