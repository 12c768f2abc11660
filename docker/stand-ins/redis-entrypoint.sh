#!/usr/bin/env bash
# Entry point of the redis stand-in image (scripts/base-images.sh builds it from Debian's redis-server when the
# official redis image cannot be pulled). The official image's contract that docker-compose.yaml relies on:
# `redis-server ARGS...` (or just the options) runs as the redis user with /data as its directory.
set -euo pipefail
if [ "${1:0:1}" = "-" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = "redis-server" ] && [ "$(id -u)" = 0 ]; then
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
exec "$@"
