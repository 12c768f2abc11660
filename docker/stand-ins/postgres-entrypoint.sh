#!/usr/bin/env bash
# Entry point of the postgres stand-in image (scripts/base-images.sh builds it from Debian's postgresql-15 when
# the official postgres image cannot be pulled). It keeps the official image's documented contract, the part
# docker-compose.yaml relies on: PGDATA (/var/lib/postgresql/data), POSTGRES_PASSWORD, POSTGRES_USER,
# POSTGRES_DB, POSTGRES_INITDB_ARGS; on an empty data directory initdb, then every file of
# /docker-entrypoint-initdb.d (*.sh executed, or sourced when not executable; *.sql fed to psql) against a
# server that listens on the Unix socket only; then the server itself, on every address, password required.
set -euo pipefail
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

if [ "${1:0:1}" = "-" ]; then set -- postgres "$@"; fi
if [ "$1" != "postgres" ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then  # as root: own the directories, then run as postgres
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set: the server would accept no password}"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") ${POSTGRES_INITDB_ARGS:-}
  printf "\nhost all all all %s\n" "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  export PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) if [ -x "$f" ]; then echo "running $f"; "$f"; else echo "sourcing $f"; . "$f"; fi ;;
      *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --dbname "$POSTGRES_DB" -f "$f" ;;
      *) [ -e "$f" ] && echo "ignoring $f" ;;
    esac
  done
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
