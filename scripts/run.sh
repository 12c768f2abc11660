#!/usr/bin/env bash
# The main job (`make run`): set up Airflow + the warehouse, run the four snapshot DAGs once, then serve
# the Airflow UI with the DAGs unpaused on their daily schedule. JIKAN_OFFLINE=1 uses the bundled replay.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

step "Checking prerequisites (Python 3.11+, PostgreSQL 14+, Redis)"
anime-dashboard check

mkdir -p "$AIRFLOW_HOME"
step "Migrating Airflow's metadata database ($AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)"
airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 40 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }

if [ -z "${ANIME_DASHBOARD_ANALYST_PASSWORD:-}" ]; then
  step "Generating a password for the read-only analyst role into .env (git-ignored)"
  ANIME_DASHBOARD_ANALYST_PASSWORD="$(python -c 'import secrets; print(secrets.token_urlsafe(24))')"
  printf '\nANIME_DASHBOARD_ANALYST_PASSWORD=%s\n' "$ANIME_DASHBOARD_ANALYST_PASSWORD" >> "$ROOT/.env"
  export ANIME_DASHBOARD_ANALYST_PASSWORD
  echo "analyst role '$ANIME_DASHBOARD_ANALYST_USER': password kept in $ROOT/.env (see docs/analysts.md)"
fi

gen_secret() { python -c 'import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])))' "$1"; }
if [ -z "${SUPERSET_SECRET_KEY:-}" ]; then
  step "Generating SUPERSET_SECRET_KEY into .env (git-ignored; Superset refuses to start without one)"
  SUPERSET_SECRET_KEY="$(gen_secret 42)"
  printf '\nSUPERSET_SECRET_KEY=%s\n' "$SUPERSET_SECRET_KEY" >> "$ROOT/.env"
  export SUPERSET_SECRET_KEY
fi
# an admin login's password: generated into .env and printed once when unset (never a default)
generate_login() {  # VAR USER LABEL
  [ -n "${!1:-}" ] && return 0
  printf -v "$1" '%s' "$(gen_secret 18)"
  printf '\n%s=%s\n' "$1" "${!1}" >> "$ROOT/.env"
  export "$1"
  printf '\n*** %s login: user %s, password %s (printed once; kept in %s/.env) ***\n' "$3" "$2" "${!1}" "$ROOT"
}
generate_login ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD "$ANIME_DASHBOARD_SUPERSET_ADMIN_USER" Superset
generate_login ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD "$ANIME_DASHBOARD_AIRFLOW_ADMIN_USER" Airflow
step "Airflow admin login from the environment (anime-dashboard airflow-admin)"
anime-dashboard airflow-admin

# analytics_refresh invalidates and re-warms Superset's caches through this connection
export AIRFLOW_CONN_SUPERSET="{\"conn_type\": \"http\", \"host\": \"$ANIME_DASHBOARD_SUPERSET_HOST\", \"port\": $ANIME_DASHBOARD_SUPERSET_PORT, \"schema\": \"http\", \"login\": \"$ANIME_DASHBOARD_SUPERSET_ADMIN_USER\", \"password\": \"$ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD\"}"

step "Warehouse database, migrations, analytics views, analyst role and the jikan_api pool"
anime-dashboard setup

REPLAY_PID=""
SUPERSET_PID=""
AIRFLOW_PID=""
cleanup() {
  [ -n "$REPLAY_PID" ] && kill "$REPLAY_PID" 2>/dev/null || true
  [ -n "$SUPERSET_PID" ] && kill -- -"$SUPERSET_PID" 2>/dev/null || true
  if [ -n "$AIRFLOW_PID" ] && kill -0 "$AIRFLOW_PID" 2>/dev/null; then
    # `airflow standalone` stops its children on SIGTERM but can hang itself afterwards: give it 15 s
    kill -- -"$AIRFLOW_PID" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$AIRFLOW_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 -- -"$AIRFLOW_PID" 2>/dev/null || true
  fi
  REPLAY_PID="" SUPERSET_PID="" AIRFLOW_PID=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
if [ "$JIKAN_OFFLINE" = "1" ]; then
  step "JIKAN_OFFLINE=1: starting the Jikan replay on 127.0.0.1:$ANIME_DASHBOARD_REPLAY_PORT"
  python -m anime_dashboard.jikan.replay --host 127.0.0.1 --port "$ANIME_DASHBOARD_REPLAY_PORT" \
    >"$AIRFLOW_HOME/replay.log" 2>&1 &
  REPLAY_PID=$!
  for _ in $(seq 50); do
    python - <<PY 2>/dev/null && break
import socket; socket.create_connection(("127.0.0.1", $ANIME_DASHBOARD_REPLAY_PORT), 1).close()
PY
    sleep 0.2
  done
else
  echo "Jikan: https://api.jikan.moe/v4 (set JIKAN_OFFLINE=1 to use the bundled replay instead)"
fi

TODAY="$(date -u +%Y-%m-%d)"
for DAG_ID in $(anime-dashboard dag-ids); do
  step "airflow dags test $DAG_ID $TODAY"
  airflow dags test "$DAG_ID" "$TODAY" >"$AIRFLOW_HOME/dags-test-$DAG_ID.log" 2>&1 \
    || { tail -n 60 "$AIRFLOW_HOME/dags-test-$DAG_ID.log"; echo "FAILED: $DAG_ID (log: $AIRFLOW_HOME/dags-test-$DAG_ID.log)"; exit 1; }
  grep -E "DagRun Finished" "$AIRFLOW_HOME/dags-test-$DAG_ID.log" | sed -E 's/.*(dag_id=[^,]*).*(state=[a-z_]*).*/\1 \2/' || true
done

SEED_DAYS="${ANIME_DASHBOARD_SEED_HISTORY_DAYS:-60}"
if [ "$JIKAN_OFFLINE" = "1" ] && [ "$SEED_DAYS" -gt 0 ]; then
  step "JIKAN_OFFLINE=1: seeding $SEED_DAYS days of synthetic history before today (labelled is_synthetic)"
  anime-dashboard history --days "$SEED_DAYS"
fi

step "Superset: metadata DB, admin user, roles (anime-dashboard superset-bootstrap)"
mkdir -p "$ANIME_DASHBOARD_SUPERSET_HOME"
anime-dashboard superset-bootstrap
step "Serving Superset on http://$ANIME_DASHBOARD_SUPERSET_HOST:$ANIME_DASHBOARD_SUPERSET_PORT (log: $ANIME_DASHBOARD_SUPERSET_HOME/gunicorn.log)"
setsid anime-dashboard superset-serve >"$ANIME_DASHBOARD_SUPERSET_HOME/gunicorn.log" 2>&1 &
SUPERSET_PID=$!
for _ in $(seq 240); do
  curl -fs "http://$ANIME_DASHBOARD_SUPERSET_HOST:$ANIME_DASHBOARD_SUPERSET_PORT/health" >/dev/null 2>&1 && break
  kill -0 "$SUPERSET_PID" 2>/dev/null || { tail -n 40 "$ANIME_DASHBOARD_SUPERSET_HOME/gunicorn.log"; echo "FAILED: Superset did not start"; exit 1; }
  sleep 0.5
done
step "Importing the dashboards (superset/assets) into Superset (anime-dashboard superset-import)"
anime-dashboard superset-import

step "airflow dags test analytics_refresh (refreshes the materialized views, then Superset's caches)"
airflow dags test analytics_refresh >"$AIRFLOW_HOME/dags-test-analytics_refresh.log" 2>&1 \
  || { tail -n 60 "$AIRFLOW_HOME/dags-test-analytics_refresh.log"; echo "FAILED: analytics_refresh"; exit 1; }

step "Rows per snapshot type"
anime-dashboard summary

step "Unpausing the snapshot DAGs (daily schedule) and analytics_refresh (on their Assets)"
airflow dags reserialize >/dev/null 2>&1
for DAG_ID in $(anime-dashboard dag-ids) analytics_refresh; do
  airflow dags unpause "$DAG_ID" >/dev/null; echo "unpaused $DAG_ID"
done

step "Dashboards: http://$ANIME_DASHBOARD_SUPERSET_HOST:$ANIME_DASHBOARD_SUPERSET_PORT/dashboard/list/ (user $ANIME_DASHBOARD_SUPERSET_ADMIN_USER, password in .env)"
step "Serving Airflow on http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT (Ctrl-C stops it and Superset)"
echo "Log in as ${ANIME_DASHBOARD_AIRFLOW_ADMIN_USER:-admin} with ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD from $ROOT/.env."
setsid airflow standalone &
AIRFLOW_PID=$!
wait "$AIRFLOW_PID"
