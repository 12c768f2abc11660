#!/usr/bin/env bash
# `make compose-base-images`: the images docker-compose.yaml and docker/*/Dockerfile start FROM, made present
# in the local Docker engine. For each: nothing when it is there; else `docker pull`; and when the pull fails
# (no registry, as on a machine without one), a stand-in built here under the same name from Debian bookworm's
# own packages: debootstrap of a minimal bookworm with Python 3.11 (once, cached in build/stand-ins/), plus
# postgresql-15, redis-server or nginx for those three, and an entry point that keeps the official image's
# contract (docker/stand-ins/). The tags name Debian's versions (postgresql-15 15.20, redis 7.0.15, nginx 1.22.1,
# python3 3.11), and each stand-in carries the label anime-dashboard.stand-in=debian-bookworm. A machine with a
# registry pulls the official images and never builds one. As root (debootstrap and chroot need it).
#   ANIME_DASHBOARD_STAND_INS=always   skip the pull (build the stand-ins of absent images right away)
#   DEBIAN_MIRROR=http://deb.debian.org/debian
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/build/stand-ins"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# name -> the Debian packages on top of the Python base (read by tests/compose/test_compose_file.py)
declare -A IMAGES=(
  ["python:3.11-slim-bookworm"]=""
  ["postgres:15.20-bookworm"]="postgresql-15"
  ["redis:7.0.15-bookworm"]="redis-server"
  ["nginx:1.22.1"]="nginx gettext-base"
)

base_rootfs() {  # build/stand-ins/bookworm-python.tar: debootstrap of bookworm with Python 3.11, once
  local tar="$CACHE/bookworm-python.tar"
  if [ -s "$tar" ]; then echo "$tar"; return; fi
  command -v debootstrap >/dev/null || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; } \
    || { echo "debootstrap is missing: apt-get install debootstrap (as root)" >&2; return 1; }
  local dir; dir="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  echo "debootstrap of Debian bookworm into $dir (a few minutes, once) ..." >&2
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,netbase,tzdata \
    bookworm "$dir" "$MIRROR" >&2
  cat > "$dir/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  in_chroot "$dir" "apt-get update -q && apt-get upgrade -y -q"
  ln -sf /usr/bin/python3 "$dir/usr/local/bin/python"
  tar -C "$dir" --numeric-owner -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$dir"
  echo "$tar"
}

in_chroot() {  # dir command: Debian's packages installed in the chroot, no service started
  local dir=$1; shift
  printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"; chmod +x "$dir/usr/sbin/policy-rc.d"
  mount -t proc proc "$dir/proc"
  local rc=0
  chroot "$dir" /usr/bin/env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -ec "$*" >&2 || rc=$?
  umount "$dir/proc"
  rm -f "$dir/usr/sbin/policy-rc.d"
  return $rc
}

stand_in() (  # image packages (a subshell: its working copy goes whatever happens)
  image=$1 packages=$2
  base="$(base_rootfs)"
  dir="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  trap 'if mountpoint -q "$dir/proc"; then umount "$dir/proc"; fi; rm -rf "$dir"' EXIT
  tar -C "$dir" -xf "$base"
  change=(--change "ENV LANG=C.UTF-8" --change "LABEL anime-dashboard.stand-in=debian-bookworm")
  stop_signal=""  # the official image's STOPSIGNAL, where it is not SIGTERM
  case "$image" in
    postgres:*)
      mkdir -p "$dir/etc/postgresql-common"  # the package's cluster "main" is not wanted: initdb makes PGDATA
      echo "create_main_cluster = false" > "$dir/etc/postgresql-common/createcluster.conf"
      in_chroot "$dir" "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold $packages"
      install -m 755 "$ROOT/docker/stand-ins/postgres-entrypoint.sh" "$dir/usr/local/bin/docker-entrypoint.sh"
      mkdir -p "$dir/docker-entrypoint-initdb.d" "$dir/var/lib/postgresql/data"
      bin="$(ls -d "$dir"/usr/lib/postgresql/*/bin | head -1)"; bin="${bin#"$dir"}"
      change+=(--change "ENV PATH=$bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
               --change "ENV PGDATA=/var/lib/postgresql/data" --change "VOLUME /var/lib/postgresql/data"
               --change "ENTRYPOINT [\"docker-entrypoint.sh\"]"
               --change "EXPOSE 5432" --change "CMD [\"postgres\"]")
      stop_signal=SIGINT ;;  # a fast shutdown on `docker stop`
    redis:*)
      in_chroot "$dir" "apt-get install -y -q --no-install-recommends $packages"
      install -m 755 "$ROOT/docker/stand-ins/redis-entrypoint.sh" "$dir/usr/local/bin/docker-entrypoint.sh"
      mkdir -p "$dir/data"
      change+=(--change "WORKDIR /data" --change "VOLUME /data" --change "ENTRYPOINT [\"docker-entrypoint.sh\"]"
               --change "EXPOSE 6379" --change "CMD [\"redis-server\"]") ;;
    nginx:*)
      in_chroot "$dir" "apt-get install -y -q --no-install-recommends $packages"
      install -m 755 "$ROOT/docker/stand-ins/nginx-entrypoint.sh" "$dir/docker-entrypoint.sh"
      # Debian's nginx.conf includes conf.d/*.conf (what the templates become) and sites-enabled/*: without
      # Debian's default site nothing else listens; the logs go to the container's stdout and stderr
      rm -f "$dir/etc/nginx/sites-enabled/default"
      mkdir -p "$dir/var/log/nginx"
      ln -sfn /dev/stdout "$dir/var/log/nginx/access.log"
      ln -sfn /dev/stderr "$dir/var/log/nginx/error.log"
      change+=(--change "ENTRYPOINT [\"/docker-entrypoint.sh\"]" --change "EXPOSE 80 443"
               --change "CMD [\"nginx\", \"-g\", \"daemon off;\"]")
      stop_signal=SIGQUIT ;;  # nginx's graceful shutdown: open requests finish
    python:*)
      change+=(--change "CMD [\"python3\"]") ;;
    *) echo "no stand-in recipe for $image" >&2; return 1 ;;
  esac
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
  echo "importing the stand-in $image ..." >&2
  tar -C "$dir" --numeric-owner -c . | docker import "${change[@]}" - "$image" >/dev/null
  if [ -n "$stop_signal" ]; then  # as the official image (docker import cannot set it)
    printf 'FROM %s\nSTOPSIGNAL %s\n' "$image" "$stop_signal" | docker build -q -t "$image" - >/dev/null
  fi
)

docker info >/dev/null 2>&1 || { echo "the Docker engine is not running: make compose-engine (as root), or start dockerd" >&2; exit 1; }
mkdir -p "$CACHE"
for image in $(printf '%s\n' "${!IMAGES[@]}" | sort); do
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image: present"; continue
  fi
  if [ "${ANIME_DASHBOARD_STAND_INS:-}" != always ] && timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
    echo "$image: pulled"; continue
  fi
  [ "$(id -u)" = 0 ] || { echo "$image cannot be pulled, and building its stand-in needs root (debootstrap)" >&2; exit 1; }
  start=$(date +%s)
  stand_in "$image" "${IMAGES[$image]}"
  echo "$image: stand-in built from Debian bookworm in $(( $(date +%s) - start )) s"
done
