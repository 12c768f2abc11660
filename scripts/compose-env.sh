#!/usr/bin/env bash
# `make compose-env`: for docker compose, give every secret that .env.example lists as `NAME=` (empty) a fresh
# random value in .env (git-ignored), unless .env already sets it; and unless .env names a TLS certificate for the
# proxy (ANIME_DASHBOARD_TLS_CERT, _KEY), a local CA and a certificate it signs, in .tls/ beside .env (git-ignored).
# Prints the names and files it generated, never values.
# ANIME_DASHBOARD_ENV_FILE: another file than .env (the compose boot test writes its own, and gets its own .tls/).
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

# The proxy's TLS certificate: unless the env file names one, a local CA and a server certificate it signs
# (localhost, 127.0.0.1 and the host of ANIME_DASHBOARD_PUBLIC_URL) in .tls/ beside the env file.
env_value() {  # NAME: its value in the env file ('' when unset)
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -1
}

set_env_value() {  # NAME VALUE: the env file's line for NAME, replaced
  sed -i "/^$1=/d" "$ENV_FILE"
  printf '%s=%s\n' "$1" "$2" >> "$ENV_FILE"
}

public_host() {  # the host part of ANIME_DASHBOARD_PUBLIC_URL in the env file ('' when unset)
  local url; url="$(env_value ANIME_DASHBOARD_PUBLIC_URL)"
  url="${url#*://}"; url="${url%%/*}"
  case "$url" in
    \[*) url="${url#[}"; echo "${url%%]*}" ;;  # [IPv6]:port
    *) echo "${url%%:*}" ;;
  esac
}

alt_names() {  # HOST: subjectAltName and nameConstraints entries for localhost, 127.0.0.1 and HOST
  local host=$1 san="DNS:localhost,IP:127.0.0.1"
  local permitted="permitted;DNS:localhost,permitted;IP:127.0.0.1/255.255.255.255"
  if [[ "$host" =~ ^[0-9]+(\.[0-9]+){3}$ ]]; then
    [ "$host" = 127.0.0.1 ] || { san+=",IP:$host"; permitted+=",permitted;IP:$host/255.255.255.255"; }
  elif [[ "$host" =~ : ]]; then
    san+=",IP:$host"; permitted+=",permitted;IP:$host/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
  elif [ -n "$host" ] && [ "$host" != localhost ]; then
    san+=",DNS:$host"; permitted+=",permitted;DNS:$host"
  fi
  printf '%s\n%s\n' "$san" "$permitted"
}

generate_tls() {  # DIR HOST: DIR/ca.crt, ca.key, tls.crt, tls.key (keys mode 600)
  local dir=$1 host=$2 names san permitted
  names="$(alt_names "$host")"; san="${names%%$'\n'*}"; permitted="${names#*$'\n'}"
  mkdir -p "$dir"; chmod 700 "$dir"
  (
    umask 077
    # the CA may sign for these names only, so that importing it into a browser trusts nothing else
    cat > "$dir/openssl.cnf" <<CNF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
nameConstraints = critical, $permitted
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
CNF
    openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 -subj "/CN=AnimeDashboard local CA" \
      -config "$dir/openssl.cnf" -extensions ca -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=${host:-localhost}" -config "$dir/openssl.cnf" \
      -keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null
    # 825 days: the longest validity macOS and iOS accept for a server certificate
    openssl x509 -req -sha256 -days 825 -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -extfile "$dir/openssl.cnf" -extensions server -out "$dir/tls.crt" \
      2>/dev/null
    rm -f "$dir/tls.csr" "$dir/openssl.cnf"
    chmod 644 "$dir/ca.crt" "$dir/tls.crt"
  )
  echo "generated a local CA ($dir/ca.crt, ca.key) and the proxy's certificate it signs for $san" \
    "($dir/tls.crt, tls.key)"
}

TLS_DIR="$(cd "$(dirname "$ENV_FILE")" && pwd)/.tls"
cert="$(env_value ANIME_DASHBOARD_TLS_CERT)"
if [ -z "$cert" ] || { [ "$cert" = "$TLS_DIR/tls.crt" ] && [ ! -s "$cert" ]; }; then
  generate_tls "$TLS_DIR" "$(public_host)"
  set_env_value ANIME_DASHBOARD_TLS_CERT "$TLS_DIR/tls.crt"
  set_env_value ANIME_DASHBOARD_TLS_KEY "$TLS_DIR/tls.key"
  set_env_value ANIME_DASHBOARD_TLS_CA "$TLS_DIR/ca.crt"
  echo "named them in $(basename "$ENV_FILE"): ANIME_DASHBOARD_TLS_CERT, _KEY and _CA"
  echo "a browser trusts it once $TLS_DIR/ca.crt is imported as a CA; to use a real certificate instead, set" \
    "ANIME_DASHBOARD_TLS_CERT and ANIME_DASHBOARD_TLS_KEY in $(basename "$ENV_FILE") to its full-chain" \
    "certificate and key before make compose-env"
else
  key="$(env_value ANIME_DASHBOARD_TLS_KEY)"
  for file in "$cert" "$key"; do
    [ -n "$file" ] && [ -s "$file" ] || { echo "ANIME_DASHBOARD_TLS_CERT and ANIME_DASHBOARD_TLS_KEY in $ENV_FILE" \
      "must name the certificate and key files (missing: ${file:-ANIME_DASHBOARD_TLS_KEY})" >&2; exit 1; }
  done
fi
