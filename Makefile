# The README's commands. `make run` is the main job, `make test` the tests (CI runs it via .ci/run).
# recipes source scripts/env.sh, which is bash (/bin/sh is dash on Debian)
SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.installed
SUPERSET_VENV ?= .venv-superset
SUPERSET_STAMP := $(SUPERSET_VENV)/.installed

.PHONY: compose-env compose-config compose-engine docker-packages compose-base-images wheelhouse debs compose-build compose-up compose-down chromium bench bench-tests run test test-fast install replay docs screenshots history freeze freeze-superset clean

run: install ## set up everything, run the four DAGs once, serve Airflow (JIKAN_OFFLINE=1: no internet)
	VENV=$(abspath $(VENV)) scripts/run.sh

test: install ## the whole test suite against the local Postgres and Redis
	VENV=$(abspath $(VENV)) scripts/test.sh

test-fast: install ## what to run while working: all but the real scheduler, the compose boot test and benchmark smoke
	VENV=$(abspath $(VENV)) scripts/test.sh -m "not scheduler and not compose and not slow"

install: $(STAMP) $(SUPERSET_STAMP) chromium docker-packages

# The browser tests drive Debian's chromium (never a downloaded browser); certutil (libnss3-tools) makes the NSS
# database through which it trusts the compose proxy's local CA. Installed here when we can.
chromium:
	@{ test -x /usr/bin/chromium && command -v certutil >/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium and libnss3-tools for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium libnss3-tools >/dev/null || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium libnss3-tools >/dev/null; }; \
	  else echo "WARNING: /usr/bin/chromium or certutil is missing and cannot be installed here (apt-get install chromium libnss3-tools as root); the browser tests will fail"; fi; }

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# Superset needs SQLAlchemy < 2 (Airflow needs >= 2): its own virtualenv, pinned by superset/requirements.txt.
$(SUPERSET_STAMP): superset/requirements.txt
	$(PYTHON) -m venv $(SUPERSET_VENV)
	$(SUPERSET_VENV)/bin/pip install --quiet --disable-pip-version-check -r superset/requirements.txt
	@touch $@

replay: install ## the offline Jikan replay on 127.0.0.1:8765
	$(VENV)/bin/python -m anime_dashboard.jikan.replay --host 127.0.0.1 --port $${ANIME_DASHBOARD_REPLAY_PORT:-8765}

docs: install ## regenerate docs/data_dictionary.md from the analytics views (after `make run` set them up)
	. scripts/env.sh && anime-dashboard setup >/dev/null && anime-dashboard data-dictionary > docs/data_dictionary.md

bench: install ## every benchmark in bench/ at full size; each rewrites its section of docs/benchmarks.md
	. scripts/env.sh && anime-dashboard check && for b in bench/[a-z]*.py; do b=$$(basename $$b .py); \
	  case $$b in report|daily_load|test_suite) continue;; esac; echo "==> bench.$$b"; python -m bench.$$b || exit 1; done

bench-tests: install ## make test of BASELINE (default: 649c39c) and of HEAD back to back: docs/benchmarks.md, tests/durations.json
	. scripts/env.sh && python -m bench.test_suite $${BASELINE:+--baseline $$BASELINE}

screenshots: install ## re-take docs/screenshots/*.png (the browser test against a throwaway Superset)
	ANIME_DASHBOARD_SCREENSHOT_DIR=$(abspath docs/screenshots) VENV=$(abspath $(VENV)) \
	  scripts/test.sh tests/superset/test_dashboards_in_browser.py

history: install ## synthetic history into the warehouse: make history DAYS=365 (ends yesterday)
	. scripts/env.sh && anime-dashboard history --days $${DAYS:-60}

freeze: install ## rewrite requirements.txt from the environment (after a deliberate upgrade)
	{ sed -n '/^#/!q;p' requirements.txt; { $(VENV)/bin/pip freeze --exclude-editable | grep -v '^anime-dashboard'; \
	  grep ' ; python' requirements.txt; } | sort -f; } > requirements.txt.new  # marker pins kept: the images' Python
	mv requirements.txt.new requirements.txt

freeze-superset: install ## rewrite superset/requirements.txt from .venv-superset (after a deliberate upgrade)
	{ sed -n '1,3p' superset/requirements.txt; { $(SUPERSET_VENV)/bin/pip freeze; \
	  grep ' ; python' superset/requirements.txt; } | sort -f; } > superset/requirements.txt.new
	mv superset/requirements.txt.new superset/requirements.txt

compose-env: ## docker compose: generate every missing secret of .env.example into .env (never printed)
	scripts/compose-env.sh

# docker compose: Debian's docker.io and docker-compose (the compose tests read the file through
# `docker-compose config`; the boot test starts dockerd itself when it is not running)
docker-packages:
	@scripts/docker-engine.sh --packages-only

COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
AIRFLOW_IMAGE  := anime-dashboard-airflow:3.3.2
SUPERSET_IMAGE := anime-dashboard-superset:6.1.0

compose-engine: ## a running Docker engine: installs docker.io and docker-compose and starts dockerd (as root) when missing
	scripts/docker-engine.sh

compose-base-images: compose-engine ## the images' bases: pulled, or stand-ins built from Debian's packages (no registry)
	scripts/base-images.sh

wheelhouse: install ## build/wheelhouse: every pinned package as a wheel, built on this host (the images install from it offline)
	VENV=$(abspath $(VENV)) scripts/wheelhouse.sh

debs: compose-base-images ## build/debs: the Debian packages the Airflow image installs (pg_dump of the server's major)
	scripts/debs.sh

compose-build: compose-base-images wheelhouse debs ## both images (docker-compose.yaml's names), from the wheelhouse
	docker build -q -f docker/airflow/Dockerfile -t $(AIRFLOW_IMAGE) .
	docker build -q -f docker/superset/Dockerfile -t $(SUPERSET_IMAGE) .

compose-up: compose-env compose-build ## the whole stack: docker compose up -d (COMPOSE_PROFILES=offline: with the Jikan replay)
	set -a && . ./.env && set +a && docker volume create "$${ANIME_DASHBOARD_BACKUP_VOLUME:-anime-dashboard-backups}" >/dev/null
	$(COMPOSE) up -d

compose-down: ## stop the stack (data kept; docker compose down -v removes it)
	$(COMPOSE) down

compose-config: install ## docker-compose.yaml checked without an engine (docker-compose config): schema, secrets, pins, entry points
	VENV=$(abspath $(VENV)) scripts/test.sh tests/compose/test_compose_file.py

clean:
	rm -rf $(VENV) $(SUPERSET_VENV) .airflow .superset .pytest_cache
