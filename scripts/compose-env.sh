#!/usr/bin/env bash
# `make compose-env`: for docker compose, give every secret that .env.example lists as `NAME=` (empty) a fresh
# random value in .env (git-ignored), unless .env already sets it. Prints the names it generated, never values.
# ANIME_DASHBOARD_ENV_FILE: another file than .env (the compose boot test writes its own).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_FILE="${ANIME_DASHBOARD_ENV_FILE:-$ROOT/.env}"
touch "$ENV_FILE"
chmod 600 "$ENV_FILE"
PY="${PYTHON:-python3}"
for name in $(sed -n 's/^\([A-Z][A-Z0-9_]*\)=$/\1/p' "$ROOT/.env.example"); do
  if grep -Eq "^${name}=.+" "$ENV_FILE"; then continue; fi
  if [ "$name" = AIRFLOW_FERNET_KEY ]; then
    value="$("$PY" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
  else
    value="$("$PY" -c 'import secrets; print(secrets.token_hex(24))')"
  fi
  sed -i "/^${name}=\$/d" "$ENV_FILE"
  printf '%s=%s\n' "$name" "$value" >> "$ENV_FILE"
  echo "generated $name into .env"
done
