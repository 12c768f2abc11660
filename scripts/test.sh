#!/usr/bin/env bash
# The test suite (`make test`): real PostgreSQL and Redis on this machine, the Jikan replay on loopback.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ROOT"
anime-dashboard check >/dev/null || { anime-dashboard check; exit 1; }
start=$(date +%s)
set +e
python -m pytest "$@"
rc=$?
set -e
echo "make test: pytest exit $rc, wall time $(( $(date +%s) - start )) s"
exit $rc
