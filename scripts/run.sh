#!/usr/bin/env bash
# The main job (`make run`): set up the warehouse, Superset and Airflow, then the production path: Airflow's
# scheduler runs the four snapshot DAGs (unpaused: today's run, then daily), their publish triggers
# analytics_refresh, and the main job watches them with progress (anime-dashboard daily-run) before it
# prints the rows and the addresses and keeps serving. JIKAN_OFFLINE=1 uses the bundled replay.
# The backup its publishes trigger (warehouse_backup) goes to ANIME_DASHBOARD_BACKUP_URL (.backups/).
# Ctrl-C or SIGTERM (twice is fine) stops everything it started within seconds.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

STARTED=()  # sessions started here (setsid: each service with all it starts), stopped by cleanup
CHILD=""     # the session of the step running now (see run)
# SID: SIGINT (gunicorn's and Airflow's quick stop) and SIGTERM to every process of the session, SIGKILL after
# STOP_SECONDS. By session, not process group: Airflow puts each task process in a group of its own.
stop_session() {
  pkill -INT -s "$1" 2>/dev/null || return 0
  pkill -TERM -s "$1" 2>/dev/null || true
  for _ in $(seq $((STOP_SECONDS * 5))); do pgrep -s "$1" >/dev/null || return 0; sleep 0.2; done
  echo "session $1 still running after ${STOP_SECONDS} s: SIGKILL" >&2
  pkill -KILL -s "$1" 2>/dev/null || true
}
STOP_SECONDS=3
cleanup() {
  trap '' INT TERM  # a second signal changes nothing: the stop is under way
  for sid in $CHILD "${STARTED[@]}"; do stop_session "$sid" & done
  wait 2>/dev/null
  STARTED=() CHILD=""
}
trap cleanup EXIT
trap 'echo; echo "stopping (everything make run started)"; cleanup; exit 130' INT TERM
# a step in a session of its own, waited for: the trap runs as soon as a signal arrives (bash defers it
# while a foreground command runs) and stops the step with everything it started
run() { setsid "$@" & CHILD=$!; local rc=0; wait "$CHILD" || rc=$?; CHILD=""; return $rc; }
# a long-running service in a session of its own (everything it starts stops with the session)
serve() { local log=$1; shift; setsid "$@" >"$log" 2>&1 & STARTED+=("$!"); LAST_PID=$!; }

step "PostgreSQL and Redis (ANIME_DASHBOARD_LOCAL_SERVERS=$ANIME_DASHBOARD_LOCAL_SERVERS)"
. "$ROOT/scripts/local-servers.sh"
mkdir -p "$AIRFLOW_HOME"
start_local_servers "$ANIME_DASHBOARD_POSTGRES_DIR" "$ANIME_DASHBOARD_REDIS_DIR" "$AIRFLOW_HOME/local-servers.env" ||
  { echo "FAILED: the project-local servers did not start (above)"; exit 1; }
if [ -n "$LOCAL_SERVERS_PID" ]; then STARTED+=("$LOCAL_SERVERS_PID"); fi

if [ "$JIKAN_OFFLINE" = "1" ]; then
  step "Checking prerequisites (Python 3.11+, PostgreSQL 14+, Redis)"
  anime-dashboard check
else
  step "Checking prerequisites (Python 3.11+, PostgreSQL 14+, Redis, one request to Jikan)"
  anime-dashboard check --jikan
fi

step "Migrating Airflow's metadata database ($AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)"
airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 40 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }

if [ -z "${ANIME_DASHBOARD_ANALYST_PASSWORD:-}" ]; then
  step "Generating a password for the read-only analyst role into .env (git-ignored)"
  ANIME_DASHBOARD_ANALYST_PASSWORD="$(python -c 'import secrets; print(secrets.token_urlsafe(24))')"
  printf '\nANIME_DASHBOARD_ANALYST_PASSWORD=%s\n' "$ANIME_DASHBOARD_ANALYST_PASSWORD" >> "$ANIME_DASHBOARD_ENV_FILE"
  export ANIME_DASHBOARD_ANALYST_PASSWORD
  echo "analyst role '$ANIME_DASHBOARD_ANALYST_USER': password kept in $ANIME_DASHBOARD_ENV_FILE (see docs/analysts.md)"
fi

gen_secret() { python -c 'import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])))' "$1"; }
if [ -z "${SUPERSET_SECRET_KEY:-}" ]; then
  step "Generating SUPERSET_SECRET_KEY into .env (git-ignored; Superset refuses to start without one)"
  SUPERSET_SECRET_KEY="$(gen_secret 42)"
  printf '\nSUPERSET_SECRET_KEY=%s\n' "$SUPERSET_SECRET_KEY" >> "$ANIME_DASHBOARD_ENV_FILE"
  export SUPERSET_SECRET_KEY
fi
# a login's password: generated into .env when unset (never a default), printed once unless it is a service's
generate_login() {  # VAR USER LABEL [quiet]
  [ -n "${!1:-}" ] && return 0
  printf -v "$1" '%s' "$(gen_secret 18)"
  printf '\n%s=%s\n' "$1" "${!1}" >> "$ANIME_DASHBOARD_ENV_FILE"
  export "$1"
  if [ -n "${4:-}" ]; then
    printf '%s login: user %s, password generated into %s\n' "$3" "$2" "$ANIME_DASHBOARD_ENV_FILE"
  else
    printf '\n*** %s login: user %s, password %s (printed once; kept in %s) ***\n' "$3" "$2" "${!1}" "$ANIME_DASHBOARD_ENV_FILE"
  fi
}
generate_login ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD "$ANIME_DASHBOARD_SUPERSET_ADMIN_USER" "Superset admin"
generate_login ANIME_DASHBOARD_SUPERSET_ANALYST_PASSWORD "$ANIME_DASHBOARD_SUPERSET_ANALYST_USER" "Superset analyst"
generate_login ANIME_DASHBOARD_SUPERSET_SERVICE_PASSWORD "$ANIME_DASHBOARD_SUPERSET_SERVICE_USER" "Superset service (analytics_refresh)" quiet
generate_login ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD "$ANIME_DASHBOARD_AIRFLOW_ADMIN_USER" "Airflow admin"
generate_login ANIME_DASHBOARD_AIRFLOW_VIEWER_PASSWORD "$ANIME_DASHBOARD_AIRFLOW_VIEWER_USER" "Airflow viewer (read-only)"
generate_login ANIME_DASHBOARD_AIRFLOW_OP_PASSWORD "$ANIME_DASHBOARD_AIRFLOW_OP_USER" "Airflow op (data engineers)"
step "Airflow logins from the environment (anime-dashboard airflow-users)"
anime-dashboard airflow-users

# analytics_refresh invalidates and re-warms Superset's caches through this connection, as the service login
export AIRFLOW_CONN_SUPERSET="{\"conn_type\": \"http\", \"host\": \"$ANIME_DASHBOARD_SUPERSET_HOST\", \"port\": $ANIME_DASHBOARD_SUPERSET_PORT, \"schema\": \"http\", \"login\": \"$ANIME_DASHBOARD_SUPERSET_SERVICE_USER\", \"password\": \"$ANIME_DASHBOARD_SUPERSET_SERVICE_PASSWORD\"}"

step "Warehouse database, migrations, analytics views, analyst role and the jikan_api pool"
anime-dashboard setup

if [ "$JIKAN_OFFLINE" = "1" ]; then
  step "JIKAN_OFFLINE=1: starting the Jikan replay on 127.0.0.1:$ANIME_DASHBOARD_REPLAY_PORT"
  serve "$AIRFLOW_HOME/replay.log" python -m anime_dashboard.jikan.replay --host 127.0.0.1 \
    --port "$ANIME_DASHBOARD_REPLAY_PORT"
  REPLAY_PID=$LAST_PID
  for _ in $(seq 100); do
    grep -q "serving" "$AIRFLOW_HOME/replay.log" 2>/dev/null && break
    kill -0 "$REPLAY_PID" 2>/dev/null || { cat "$AIRFLOW_HOME/replay.log"; echo "FAILED: the replay did not start"; exit 1; }
    sleep 0.1
  done
  run anime-dashboard check --jikan
  SEED_DAYS="${ANIME_DASHBOARD_SEED_HISTORY_DAYS:-60}"
  if [ "$SEED_DAYS" -gt 0 ]; then
    step "JIKAN_OFFLINE=1: seeding $SEED_DAYS days of synthetic history before today (labelled is_synthetic)"
    run anime-dashboard history --days "$SEED_DAYS"
  fi
fi

step "Superset: metadata DB, admin user, roles (anime-dashboard superset-bootstrap)"
mkdir -p "$ANIME_DASHBOARD_SUPERSET_HOME"
run anime-dashboard superset-bootstrap
step "Serving Superset on http://$ANIME_DASHBOARD_SUPERSET_HOST:$ANIME_DASHBOARD_SUPERSET_PORT (log: $ANIME_DASHBOARD_SUPERSET_HOME/gunicorn.log)"
serve "$ANIME_DASHBOARD_SUPERSET_HOME/gunicorn.log" anime-dashboard superset-serve
SUPERSET_PID=$LAST_PID
for _ in $(seq 240); do
  curl -fs "http://$ANIME_DASHBOARD_SUPERSET_HOST:$ANIME_DASHBOARD_SUPERSET_PORT/health" >/dev/null 2>&1 && break
  kill -0 "$SUPERSET_PID" 2>/dev/null || { tail -n 40 "$ANIME_DASHBOARD_SUPERSET_HOME/gunicorn.log"; echo "FAILED: Superset did not start"; exit 1; }
  sleep 0.5
done
step "Importing the dashboards (superset/assets) into Superset (anime-dashboard superset-import)"
run anime-dashboard superset-import

# Each Airflow service on its own, as in compose (`airflow standalone` would replace the FAB auth manager by
# SimpleAuthManager). The scheduler and triggerer start no log server (it would listen on every address): the
# api-server reads the task logs from their files on this machine.
step "Starting Airflow: scheduler, dag-processor, triggerer, api-server (logs: $AIRFLOW_HOME/<service>.log)"
AIRFLOW_PIDS=()
for service in "scheduler --skip-serve-logs" dag-processor "triggerer --skip-serve-logs" api-server; do
  # shellcheck disable=SC2086 # the service's name and flags
  serve "$AIRFLOW_HOME/${service%% *}.log" airflow $service
  AIRFLOW_PIDS+=("$LAST_PID")
done
step "Today's snapshots through the scheduler: unpausing the DAGs, then their runs and analytics_refresh"
run anime-dashboard daily-run || { echo "FAILED: a DAG run failed (above; logs in the Airflow UI and $AIRFLOW_HOME/logs)"; exit 1; }

step "Rows per snapshot type"
run anime-dashboard summary

step "Dashboards and SQL Lab: http://$ANIME_DASHBOARD_SUPERSET_HOST:$ANIME_DASHBOARD_SUPERSET_PORT/dashboard/list/"
echo "Analysts log in as $ANIME_DASHBOARD_SUPERSET_ANALYST_USER (ANIME_DASHBOARD_SUPERSET_ANALYST_PASSWORD), the admin as $ANIME_DASHBOARD_SUPERSET_ADMIN_USER; passwords in $ANIME_DASHBOARD_ENV_FILE."
step "Airflow: http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT (the DAGs run daily from now on; Ctrl-C stops Airflow and Superset)"
echo "Logins: $ANIME_DASHBOARD_AIRFLOW_VIEWER_USER (Viewer: read-only), $ANIME_DASHBOARD_AIRFLOW_OP_USER (Op: trigger, clear, mark, pause), $ANIME_DASHBOARD_AIRFLOW_ADMIN_USER (Admin: also users); passwords (ANIME_DASHBOARD_AIRFLOW_*_PASSWORD) in $ANIME_DASHBOARD_ENV_FILE."
step "Backups: $ANIME_DASHBOARD_BACKUP_URL (after every publish and daily at 03:00 UTC; anime-dashboard backups lists them, anime-dashboard restore puts one back)"
step "Warehouse for BI tools and psql: $(python -c 'import os, urllib.parse as u; p = u.urlsplit(os.environ["AIRFLOW_CONN_WAREHOUSE"]); print(f"host {p.hostname}, port {p.port or 5432}, database {p.path.lstrip(chr(47))}")'), user $ANIME_DASHBOARD_ANALYST_USER (read-only; docs/analysts.md)"
if [ -n "$LOCAL_SERVERS_PID" ]; then
  echo "Project-local servers (they stop with make run; their data stays in $ANIME_DASHBOARD_POSTGRES_DIR and $ANIME_DASHBOARD_REDIS_DIR):"
  grep -v PG_BIN "$AIRFLOW_HOME/local-servers.env" | sed 's/^export /  /'
fi
echo "make run: ready"
wait -n "${AIRFLOW_PIDS[@]}" $LOCAL_SERVERS_PID || true
echo "FAILED: a service stopped (logs: $AIRFLOW_HOME/<service>.log, server.log in $ANIME_DASHBOARD_POSTGRES_DIR and $ANIME_DASHBOARD_REDIS_DIR); stopping the rest"
exit 1
