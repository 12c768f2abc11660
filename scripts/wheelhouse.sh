#!/usr/bin/env bash
# `make wheelhouse`: build/wheelhouse/, every package the two images install, as wheels built on this host from
# the pinned files (requirements.txt, superset/requirements.txt, docker/build-requirements.txt). The images
# install from it with --no-index (docker/*/Dockerfile): no network inside a build, no CA bundle in an image,
# and the same files every time. Wheels are kept across clones in $ANIME_DASHBOARD_WHEEL_CACHE (default
# ~/.cache/anime-dashboard/wheels) and copied from there, so a fresh clone builds from identical files (and
# Docker's layer cache still applies); only what is missing there is fetched, through pip's own settings.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${VENV:-$ROOT/.venv}/bin/python"
[ -x "$PY" ] || PY=python3
CACHE="${ANIME_DASHBOARD_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/anime-dashboard/wheels}"
OUT="$ROOT/build/wheelhouse"
# one pip run per file: the two environments pin some packages differently (SQLAlchemy 2 against 1.4)
FILES=("$ROOT/requirements.txt" "$ROOT/superset/requirements.txt" "$ROOT/docker/build-requirements.txt")
mkdir -p "$CACHE"
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
start=$(date +%s)
# every pin is listed (the files are complete freezes): --no-deps; the cache alone first, then the registry
for f in "${FILES[@]}"; do
  if ! "$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-index --find-links "$CACHE" \
       -w "$OUT.tmp" -r "$f" 2>/dev/null; then
    # (pip's own settings may name local indexes that are absent here: their warnings are left out)
    "$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps --find-links "$CACHE" -w "$OUT.tmp" -r "$f" \
      2> >(grep -v "^WARNING: Location '" >&2)
  fi
done
# pins behind an environment marker (`; python_full_version < "3.11.3"`) go in whatever this host's Python is:
# the image's Python decides (Debian bookworm's 3.11.2 needs async-timeout, a newer 3.11 does not)
marked="$(sed -n 's/^\([A-Za-z0-9_.-]*==[^ ;]*\) *;.*/\1/p' "${FILES[@]}" | sort -u)"
if [ -n "$marked" ]; then
  # shellcheck disable=SC2086
  "$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps --find-links "$CACHE" -w "$OUT.tmp" $marked \
    2> >(grep -v "^WARNING: Location '" >&2)
fi
for w in "$OUT.tmp"/*.whl; do  # keep the first copy of each file: later builds reuse exactly these bytes
  if [ -e "$CACHE/${w##*/}" ]; then cp -f "$CACHE/${w##*/}" "$w"; else cp "$w" "$CACHE/"; fi
done
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "wheelhouse: $(ls "$OUT" | wc -l) wheels, $(du -sh "$OUT" | cut -f1), in $(( $(date +%s) - start )) s ($OUT)"
