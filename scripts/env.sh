# Sourced by scripts/*.sh: every setting docs/configuration.md lists, with its local default. Any of them can be
# set in the environment or in a git-ignored .env at the project root (see .env.example).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ANIME_DASHBOARD_ENV_FILE="${ANIME_DASHBOARD_ENV_FILE:-$ROOT/.env}"  # where make run keeps generated secrets
if [ -f "$ANIME_DASHBOARD_ENV_FILE" ]; then set -a; . "$ANIME_DASHBOARD_ENV_FILE"; set +a; fi

export VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ROOT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ROOT/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
# the same database as the backups see it (Airflow hides the setting above from its task processes)
export ANIME_DASHBOARD_AIRFLOW_DATABASE_URI="${ANIME_DASHBOARD_AIRFLOW_DATABASE_URI:-$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN}"
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
# where tasks reach the api-server's execution API: Airflow's default names port 8080 whatever the port above
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT/execution/}"
# The warehouse and Redis: one set here is used as it is. For one left unset, make run and make test use the default
# below, or start a project-local server when nothing answers there (ANIME_DASHBOARD_LOCAL_SERVERS: auto, always,
# never; scripts/local-servers.sh). CONFIGURED_SERVERS: those set, before the defaults fill them in.
CONFIGURED_SERVERS="${AIRFLOW_CONN_WAREHOUSE:+warehouse} ${ANIME_DASHBOARD_REDIS_URL:+redis}"
export ANIME_DASHBOARD_LOCAL_SERVERS="${ANIME_DASHBOARD_LOCAL_SERVERS:-auto}"
export ANIME_DASHBOARD_POSTGRES_DIR="${ANIME_DASHBOARD_POSTGRES_DIR:-$ROOT/.postgres}"  # make run's local PostgreSQL
export ANIME_DASHBOARD_REDIS_DIR="${ANIME_DASHBOARD_REDIS_DIR:-$ROOT/.redis}"           # and Redis: data and port
export AIRFLOW_CONN_WAREHOUSE="${AIRFLOW_CONN_WAREHOUSE:-postgresql://postgres@127.0.0.1:5432/anime_dashboard}"
export ANIME_DASHBOARD_REDIS_URL="${ANIME_DASHBOARD_REDIS_URL:-redis://127.0.0.1:6379/0}"
export ANIME_DASHBOARD_BACKUP_URL="${ANIME_DASHBOARD_BACKUP_URL:-$ROOT/.backups}"  # a folder or an object store URL
export ANIME_DASHBOARD_ANALYST_USER="${ANIME_DASHBOARD_ANALYST_USER:-analyst}"
export JIKAN_OFFLINE="${JIKAN_OFFLINE:-0}"
export ANIME_DASHBOARD_REPLAY_PORT="${ANIME_DASHBOARD_REPLAY_PORT:-8765}"
if [ "$JIKAN_OFFLINE" = "1" ]; then
  export AIRFLOW_CONN_JIKAN_DEFAULT="{\"conn_type\": \"http\", \"host\": \"127.0.0.1\", \"port\": $ANIME_DASHBOARD_REPLAY_PORT, \"schema\": \"http\"}"
else
  export AIRFLOW_CONN_JIKAN_DEFAULT="${AIRFLOW_CONN_JIKAN_DEFAULT:-{\"conn_type\": \"http\", \"host\": \"api.jikan.moe\", \"schema\": \"https\"\}}"
fi
export ANIME_DASHBOARD_SUPERSET_HOST="${ANIME_DASHBOARD_SUPERSET_HOST:-127.0.0.1}"
export ANIME_DASHBOARD_SUPERSET_PORT="${ANIME_DASHBOARD_SUPERSET_PORT:-8088}"
export ANIME_DASHBOARD_SUPERSET_ADMIN_USER="${ANIME_DASHBOARD_SUPERSET_ADMIN_USER:-admin}"
export ANIME_DASHBOARD_SUPERSET_ANALYST_USER="${ANIME_DASHBOARD_SUPERSET_ANALYST_USER:-analyst}"    # role Analyst
export ANIME_DASHBOARD_SUPERSET_SERVICE_USER="${ANIME_DASHBOARD_SUPERSET_SERVICE_USER:-pipeline}"   # role Pipeline
export ANIME_DASHBOARD_SUPERSET_HOME="${ANIME_DASHBOARD_SUPERSET_HOME:-$ROOT/.superset}"
export ANIME_DASHBOARD_AIRFLOW_ADMIN_USER="${ANIME_DASHBOARD_AIRFLOW_ADMIN_USER:-admin}"
export ANIME_DASHBOARD_AIRFLOW_VIEWER_USER="${ANIME_DASHBOARD_AIRFLOW_VIEWER_USER:-viewer}"  # stakeholders: read-only
export ANIME_DASHBOARD_AIRFLOW_OP_USER="${ANIME_DASHBOARD_AIRFLOW_OP_USER:-engineer}"        # data engineers: role op
# the Airflow UI's logins are FAB users in Airflow's metadata database (anime-dashboard airflow-users)
export AIRFLOW__CORE__AUTH_MANAGER="${AIRFLOW__CORE__AUTH_MANAGER:-airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager}"
# one login throttle for both UIs (Superset reads ANIME_DASHBOARD_LOGIN_RATE_LIMIT itself)
export AIRFLOW__FAB__AUTH_RATE_LIMIT="${AIRFLOW__FAB__AUTH_RATE_LIMIT:-${ANIME_DASHBOARD_LOGIN_RATE_LIMIT:-5 per 40 second}}"
export AIRFLOW__FAB__CONFIG_FILE="${AIRFLOW__FAB__CONFIG_FILE:-$ROOT/include/anime_dashboard/airflow_webserver_config.py}"
