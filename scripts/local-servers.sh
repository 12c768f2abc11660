# Sourced by run.sh and test.sh after env.sh. start_local_servers PG_DIR REDIS_DIR ENV_FILE: project-local
# PostgreSQL and Redis for those of the two that CONFIGURED_SERVERS (env.sh) leaves to us, as
# ANIME_DASHBOARD_LOCAL_SERVERS says (anime_dashboard.local_servers). It runs `anime-dashboard local-servers` in a
# session of its own, waits until the servers answer, and exports their settings, with the PostgreSQL client tools
# of the local server's major first on PATH. LOCAL_SERVERS_PID: that process (the servers stop with it), empty
# when none was started; stop_local_servers stops it.
LOCAL_SERVERS_PID=""
start_local_servers() {
  local env_file=$3 flags=() name
  for name in $CONFIGURED_SERVERS; do flags+=(--configured "$name"); done
  rm -f "$env_file"
  setsid anime-dashboard local-servers "${flags[@]}" --postgres-dir "$1" --redis-dir "$2" --env-file "$env_file" &
  LOCAL_SERVERS_PID=$!
  until [ -f "$env_file" ]; do
    if ! kill -0 "$LOCAL_SERVERS_PID" 2>/dev/null; then
      wait "$LOCAL_SERVERS_PID" 2>/dev/null || true; LOCAL_SERVERS_PID=""; return 1
    fi
    sleep 0.1
  done
  # shellcheck disable=SC1090 # export lines the servers' process wrote
  . "$env_file"
  if [ -n "${ANIME_DASHBOARD_PG_BIN:-}" ]; then export PATH="$ANIME_DASHBOARD_PG_BIN:$PATH"; fi
  if [ ! -s "$env_file" ]; then wait "$LOCAL_SERVERS_PID" 2>/dev/null || true; LOCAL_SERVERS_PID=""; fi
}
stop_local_servers() {
  [ -n "$LOCAL_SERVERS_PID" ] || return 0
  kill -TERM "$LOCAL_SERVERS_PID" 2>/dev/null || true
  wait "$LOCAL_SERVERS_PID" 2>/dev/null || true
  LOCAL_SERVERS_PID=""
}
