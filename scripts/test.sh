#!/usr/bin/env bash
# The test suite (`make test`): real PostgreSQL and Redis (this machine's, or project-local ones started for the run
# and stopped after it: ANIME_DASHBOARD_LOCAL_SERVERS), the Jikan replay on loopback.
# Two passes: everything but the tests marked `timing` on ANIME_DASHBOARD_TEST_WORKERS pytest-xdist workers
# (default 3, measured best on this 2-core machine, as many tests wait as compute; each takes whole modules,
# tests/superset/ as one), then the `timing` tests alone in one process, so that the other workers' load
# cannot stretch the waits they measure. ANIME_DASHBOARD_TEST_WORKERS=0: one
# pass in one process. Arguments go to both passes (a pass left with no test is not an error unless both are).
# ANIME_DASHBOARD_TEST_JUNIT=PREFIX writes PREFIX-<pass>.xml for each pass (bench/test_suite.py reads them).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ROOT"
# PostgreSQL and Redis as for make run (scripts/local-servers.sh), project-local ones in a folder of this run's own
servers=$(mktemp -d)
. scripts/local-servers.sh
trap 'stop_local_servers; rm -rf "$servers"' EXIT
start_local_servers "$servers/postgres" "$servers/redis" "$servers/env" || exit 1
anime-dashboard check >/dev/null || { anime-dashboard check; exit 1; }
workers=${ANIME_DASHBOARD_TEST_WORKERS:-3}
junit() { if [ -n "${ANIME_DASHBOARD_TEST_JUNIT:-}" ]; then echo "--junitxml=${ANIME_DASHBOARD_TEST_JUNIT}-$1.xml"; fi; }
start=$(date +%s)
set +e
if [ "$workers" = 0 ]; then
  python -m pytest -p no:xdist $(junit all) "$@"
  rc=$?
else
  ANIME_DASHBOARD_TEST_PASS=parallel python -m pytest -n "$workers" --dist loadscope --no-loadscope-reorder \
    $(junit parallel) "$@"
  rc=$?
  echo "==> the tests marked timing, alone"
  ANIME_DASHBOARD_TEST_PASS=timing python -m pytest -p no:xdist $(junit timing) "$@"
  rc_timing=$?
  # pytest's 5 is "no tests ran": an error only when neither pass ran a test
  if [ "$rc" = 5 ]; then rc=$rc_timing; elif [ "$rc" = 0 ] && [ "$rc_timing" != 5 ]; then rc=$rc_timing; fi
fi
set -e
echo "make test: pytest exit $rc, wall time $(( $(date +%s) - start )) s"
exit $rc
