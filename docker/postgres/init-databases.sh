#!/usr/bin/env bash
# Runs once, when the postgres service starts on an empty data volume (/docker-entrypoint-initdb.d): one
# owner role and one database each for Airflow's metadata, Superset's metadata and the warehouse. Passwords
# come from the environment (.env); the SQL is docker/postgres/init-databases.sql, fed to psql with variables
# (quoted by psql and format(), never pasted into SQL text). Safe to rerun: existing roles get their password
# reset, existing databases are kept.
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD is not set (see .env.example)}"
: "${SUPERSET_DB_PASSWORD:?SUPERSET_DB_PASSWORD is not set (see .env.example)}"
: "${WAREHOUSE_DB_PASSWORD:?WAREHOUSE_DB_PASSWORD is not set (see .env.example)}"
# not beside the script in the container: the entrypoint would run a *.sql there without its variables
SQL="${ANIME_DASHBOARD_INIT_SQL:-$(dirname "$0")/init-databases.sql}"

owner() {  # role database password createrole-and-createdb
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --dbname "${POSTGRES_DB:-postgres}" \
    -v role="$1" -v db="$2" -v password="$3" -v createrole="$4" -f "$SQL"
  echo "init-databases: role $1 owns database $2"
}
owner "${AIRFLOW_DB_USER:-airflow}" "${AIRFLOW_DB_NAME:-airflow}" "$AIRFLOW_DB_PASSWORD" false
owner "${SUPERSET_DB_USER:-superset}" "${SUPERSET_DB_NAME:-superset}" "$SUPERSET_DB_PASSWORD" false
# the warehouse owner creates the read-only analyst role (anime-dashboard setup), hence CREATEROLE, and the
# scratch databases backups are verified in (the warehouse_backup DAG), hence CREATEDB
owner "${WAREHOUSE_DB_USER:-anime_etl}" "${WAREHOUSE_DB_NAME:-anime_dashboard}" "$WAREHOUSE_DB_PASSWORD" true
