#!/usr/bin/env bash
# `make compose-engine` (and the compose targets, and the compose boot test): a running Docker engine and
# docker-compose. When they are missing and we are root, installs Debian's docker.io and docker-compose
# (apt-get) and starts dockerd in the background (log: /var/log/anime-dashboard-dockerd.log; it writes its pid
# to /var/run/docker.pid); otherwise says what to do. Prints "started dockerd" when it started it.
# --packages-only (make install): the packages when root and missing, no daemon; never fails.
set -euo pipefail
install_packages() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io docker-compose >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io docker-compose >/dev/null; }
}
if [ "${1:-}" = --packages-only ]; then
  if command -v dockerd >/dev/null && command -v docker-compose >/dev/null; then exit 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's docker.io and docker-compose for the compose tests"
    install_packages || echo "WARNING: docker.io/docker-compose could not be installed; the compose tests will fail"
  else
    echo "WARNING: docker-compose and dockerd are missing (apt-get install docker.io docker-compose as root); the compose tests will fail"
  fi
  exit 0
fi
if docker info >/dev/null 2>&1 && command -v docker-compose >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "no Docker engine here: install Docker Engine and docker-compose (Debian: apt-get install docker.io docker-compose, as root) and start dockerd" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null; then
  echo "installing Debian's docker.io and docker-compose"
  install_packages
fi
if ! docker info >/dev/null 2>&1; then
  setsid dockerd >>/var/log/anime-dashboard-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /var/log/anime-dashboard-dockerd.log" >&2; exit 1; }
  echo "started dockerd (pid $(cat /var/run/docker.pid)); stop it with: kill \$(cat /var/run/docker.pid)"
fi
