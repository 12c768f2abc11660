#!/usr/bin/env bash
# `make debs` (part of `make compose-build`): build/debs/, the Debian packages docker/airflow/Dockerfile installs
# with dpkg: those named in docker/airflow/debian-packages.txt and everything they depend on that the image's base
# (the Dockerfile's PYTHON_BASE, which must be present: make compose-base-images) does not already have. Fetched
# on this host with `apt-get download` (the base is Debian bookworm, like this host), so a build needs no network
# and no apt-get, as with the wheelhouse.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIST="$ROOT/docker/airflow/debian-packages.txt"
OUT="$ROOT/build/debs"
BASE="$(sed -n 's/^ARG PYTHON_BASE=//p' "$ROOT/docker/airflow/Dockerfile")"
command -v apt-get >/dev/null || { echo "apt-get is needed to fetch the image's Debian packages (a Debian host)" >&2; exit 1; }
mapfile -t wanted < <(grep -v '^\s*#' "$LIST" | grep -v '^\s*$')
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
    "${wanted[@]}" | grep '^[a-z0-9]' | sort -u
}
in_base="$(docker run --rm --entrypoint dpkg-query "$BASE" -W -f '${Package}\n' | sort -u)"
needs=$(closure) || { [ "$(id -u)" = 0 ] && apt-get update -q >/dev/null && needs=$(closure); }
mapfile -t missing < <(comm -23 <(echo "$needs") <(echo "$in_base"))
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
fetch() { [ "${#missing[@]}" = 0 ] || (cd "$OUT.tmp" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null); }
fetch || { [ "$(id -u)" = 0 ] && apt-get update -q >/dev/null && fetch; } || {
  echo "could not download ${missing[*]} (apt-get update as root, then again)" >&2; exit 1; }
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "debs: ${wanted[*]} and what they need beyond $BASE: ${#missing[@]} packages, $(du -sh "$OUT" | cut -f1) ($OUT)"
