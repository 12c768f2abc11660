"""
# Warehouse backup

Jikan keeps no history: every snapshot exists only in the warehouse. This DAG backs it up, with Superset's
metadata (analysts' saved charts, dashboards, queries) and Airflow's, after every publish of a snapshot DAG
(Assets) and at 03:00 UTC every day, into `ANIME_DASHBOARD_BACKUP_URL` (a folder, or an object store URL).

| task | does | reruns |
|---|---|---|
| `backup` | `pg_dump --format=custom` of each PostgreSQL database (SQLite's backup API for a SQLite one) in one consistent snapshot, with `manifest.json`: sha256 and size of each file, server and migration versions, rows per table, checksums of the snapshot tables, the snapshot dates; written under a temporary name and renamed when complete | a new backup |
| `verify` | when due (no verification for 7 days, the last one failed, or `backup` failed): the newest backup restored into scratch databases and compared with its manifest; a mismatch fails the run | safe any time |
| `retention` | keeps the newest backup of each of the last 7 days, 4 weeks and 12 months, and the newest verified one; deletes the rest (never after a failed backup or verification) | safe any time |

`analytics.backups` (the pipeline-health dashboard) mirrors the location. Restore with `anime-dashboard restore`.
"""
# Airflow parses this file (safe mode looks for the words airflow and dag); it only builds the DAG.
from anime_dashboard.dag_factory import build_backup_dag

warehouse_backup = build_backup_dag(doc_md=__doc__)
