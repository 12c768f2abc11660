"""docker-compose.yaml is a valid, complete production deployment: the file as `docker-compose config` reads it
(interpolation, required secrets, Compose's own validation), and what Compose does not check: the Compose
schema, secrets never in the file, the image pins and bases (and the stand-ins' recipes), health checks and start
order, the front door (only the proxy and Postgres publish ports; the proxy's nginx template: HTTP redirected, TLS
and HSTS, Superset at / and Airflow under /airflow/, the token endpoint throttled), the Redis split, and that every
setting the code reads reaches the services that run it. tests/compose/test_boot.py boots it.
"""
from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shlex
from pathlib import Path

import jsonschema
import pytest

from compose_file import (ComposeConfigError, command_text, dockerfile, env_example, load, load_raw,
                          referenced_variables, service_env)
from support import ROOT

SCHEMA = json.loads((Path(__file__).parent / "compose-spec.json").read_text(encoding="utf-8"))
# the secrets: .env.example's uncommented, empty `NAME=` lines
SECRETS = sorted(re.findall(r"^([A-Z][A-Z0-9_]+)=$", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M))
AIRFLOW_IMAGE_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                          "airflow-triggerer", "airflow-worker", "superset-import", "jikan-replay"}
AIRFLOW_TASK_SERVICES = {"airflow-worker", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                         "airflow-apiserver", "airflow-init", "superset-import"}
SUPERSET_SERVICES = {"superset-init", "superset", "superset-worker"}
ONE_SHOT = {"airflow-init", "superset-init", "superset-import"}


def secret_env() -> dict[str, str]:
    env = {name: secrets.token_hex(16) for name in SECRETS}
    env["AIRFLOW_FERNET_KEY"] = "x" * 43 + "="
    # the proxy's certificate and key, required like the secrets (make compose-env generates them)
    env["ANIME_DASHBOARD_TLS_CERT"] = "/srv/anime-dashboard/tls/tls.crt"
    env["ANIME_DASHBOARD_TLS_KEY"] = "/srv/anime-dashboard/tls/tls.key"
    return env


ENV = secret_env()


@pytest.fixture(scope="module")
def compose() -> dict:
    return load(ENV)


def requirement_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


# --- the file itself -----------------------------------------------------------------------------------------

def test_compose_file_validates_against_the_compose_specification(compose):
    jsonschema.validate(load_raw(), SCHEMA)  # as written
    jsonschema.validate(compose, SCHEMA)  # as Compose runs it, every variable filled in


def test_the_compose_spec_schema_catches_a_broken_file():
    broken = load(secret_env())
    broken["services"]["superset"]["healthcheck"]["retries"] = "five"
    broken["services"]["postgres"]["depends_on"] = {"redis": {"condition": "when_ready"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_services_are_the_production_set(compose):
    assert set(compose["services"]) == {
        "postgres", "redis", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
        "airflow-triggerer", "airflow-worker", "superset-init", "superset", "superset-worker", "superset-import",
        "proxy", "jikan-replay"}
    assert compose["services"]["jikan-replay"]["profiles"] == ["offline"]
    for name, service in compose["services"].items():
        if name != "jikan-replay":
            assert "profiles" not in service, f"{name} must start with a plain `docker compose up`"


def test_airflow_runs_the_celery_executor_with_its_broker_on_redis(compose):
    env = service_env(compose["services"]["airflow-worker"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:6379/" in env[
        "AIRFLOW__CELERY__BROKER_URL"]
    assert "celery worker" in command_text(compose["services"]["airflow-worker"])
    from airflow.providers.celery.executors.celery_executor import CeleryExecutor  # pinned in requirements.txt

    assert CeleryExecutor.__name__ == env["AIRFLOW__CORE__EXECUTOR"]


def test_every_airflow_setting_in_the_file_is_a_real_airflow_option(compose):
    from airflow.configuration import conf

    conf.load_providers_configuration()
    names = set()
    for name in AIRFLOW_IMAGE_SERVICES:
        names |= {k for k in service_env(compose["services"][name]) if k.startswith("AIRFLOW__")}
    unknown = []
    for name in sorted(names):
        section, key = name[len("AIRFLOW__"):].lower().split("__", 1)
        if not conf.has_option(section, key, lookup_from_deprecated=False) and not _in_config_templates(section, key):
            unknown.append(name)
    assert not unknown, f"Airflow has no such options (typo?): {unknown}"


def _in_config_templates(section: str, key: str) -> bool:
    """Options without a default (e.g. [core] execution_api_server_url) are still documented options."""
    import yaml
    from airflow import configuration
    from airflow.providers.celery import get_provider_info

    templates = yaml.safe_load((Path(configuration.__file__).parent / "config_templates" / "config.yml").read_text())
    templates.update(get_provider_info.get_provider_info().get("config", {}))
    return key in (templates.get(section, {}).get("options") or {})


# --- secrets -------------------------------------------------------------------------------------------------

def test_env_example_lists_every_secret_empty_and_every_variable_the_file_reads():
    documented = env_example()
    assert len(SECRETS) >= 12, SECRETS
    for name in SECRETS:
        assert documented[name] == "", f".env.example must not carry a value for the secret {name}"
    missing = sorted(set(referenced_variables()) - set(documented))
    assert not missing, f"docker-compose.yaml reads variables .env.example does not document: {missing}"


def test_every_secret_is_required_wherever_it_is_used():
    refs = referenced_variables()
    for name in SECRETS:
        assert name in refs, f".env.example lists {name} but docker-compose.yaml never uses it"
        assert set(refs[name]) == {":?"}, f"{name} must be ${{{name}:?message}} at every use, found {refs[name]}"


@pytest.mark.parametrize("missing", ["POSTGRES_PASSWORD", "SUPERSET_SECRET_KEY", "REDIS_PASSWORD",
                                     "ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_JWT_SECRET",
                                     "ANIME_DASHBOARD_TLS_CERT", "ANIME_DASHBOARD_TLS_KEY"])
def test_compose_stops_with_a_clear_message_when_a_secret_is_unset(missing):
    env = secret_env()
    env.pop(missing)
    with pytest.raises(ComposeConfigError, match=rf"{missing} is not set - see \.env\.example"):
        load(env)
    env[missing] = ""  # an empty NAME= line, as in .env.example, is unset too
    with pytest.raises(ComposeConfigError, match=rf"{missing} is not set"):
        load(env)


def test_no_password_or_key_is_written_into_the_file(compose):
    raw = load_raw()
    texts = json.dumps(raw)
    for weak in ("airflow:airflow@", "superset:superset@", "admin:admin@", "POSTGRES_PASSWORD: postgres",
                 "changeme", "thisISaSECRET"):
        assert weak not in texts
    filled = json.dumps(compose)
    for name, value in ENV.items():
        assert value in filled, f"{name} reaches no service"
    for name, service in raw["services"].items():
        for key, value in service_env(service).items():
            if re.search(r"PASSWORD|SECRET|FERNET", key) and not key.endswith(("_USER", "_FILE", "_INIT_SQL")):
                assert "${" in value, f"{name}: {key} is hard-coded"


# --- images --------------------------------------------------------------------------------------------------

def _python_of(venv: str) -> str:
    import subprocess

    return subprocess.run([str(ROOT / venv / "bin" / "python"), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _installs_offline_from_the_wheelhouse(text: str, requirements: str) -> None:
    assert "COPY build/wheelhouse/ /wheelhouse/" in text
    assert re.search(rf"pip install --no-cache-dir --no-index --find-links /wheelhouse -r {re.escape(requirements)}",
                     text), f"{requirements} must be installed from the wheelhouse, offline"
    assert "--no-index --find-links /wheelhouse --no-deps -e ." in text
    # the wheels stay in the build stage: the image's own stage copies the virtualenv, not the wheelhouse
    final = text.split("\nFROM ")[-1]
    assert "/wheelhouse" not in final and "COPY --from=build" in final
    assert "apt-get" not in text and "curl" not in text, "no network and no build tools inside a build"


def test_airflow_image_is_exactly_the_pinned_airflow_and_installs_requirements_txt(compose):
    pins = requirement_pins(ROOT / "requirements.txt")
    args, froms, text = dockerfile(ROOT / "docker" / "airflow" / "Dockerfile")
    python = _python_of(".venv")
    assert froms == [args["PYTHON_BASE"]] * 2 and args["PYTHON_BASE"] == f"python:{python}-slim-bookworm", \
        "the image's Python must be the one requirements.txt was frozen (and is tested) with"
    _installs_offline_from_the_wheelhouse(text, "requirements.txt")
    assert 'ENTRYPOINT ["airflow"]' in text
    for name in AIRFLOW_IMAGE_SERVICES:
        service = compose["services"][name]
        assert service["image"] == f"anime-dashboard-airflow:{pins['apache-airflow']}", name
        assert service["build"]["dockerfile"] == "docker/airflow/Dockerfile"
        assert service["build"]["args"]["PYTHON_BASE"] == args["PYTHON_BASE"]


def test_superset_image_installs_superset_requirements_txt_verbatim(compose):
    pins = requirement_pins(ROOT / "superset" / "requirements.txt")
    args, froms, text = dockerfile(ROOT / "docker" / "superset" / "Dockerfile")
    assert froms == [args["PYTHON_BASE"]] * 2 and args["PYTHON_BASE"] == f"python:{_python_of('.venv-superset')}-slim-bookworm", \
        "the Superset image's Python must be the one .venv-superset (the tested one) runs"
    _installs_offline_from_the_wheelhouse(text, "superset/requirements.txt")
    for module in (ROOT / "superset").glob("*.py"):  # bootstrap.py imports access.py: every module goes in
        assert f"superset/{module.name}" in text, f"the Superset image lacks superset/{module.name}"
    for name in SUPERSET_SERVICES:
        service = compose["services"][name]
        assert service["image"] == f"anime-dashboard-superset:{pins['apache-superset']}", name
        assert service["build"]["args"]["PYTHON_BASE"] == args["PYTHON_BASE"]


def test_make_compose_build_and_the_base_images_cover_every_image_the_file_runs(compose):
    """`make compose-build` tags what the services run; `make compose-base-images` makes every image the
    file or a Dockerfile starts from present (pulled, or a stand-in where there is no registry)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    built = {m.group(1) for m in re.finditer(r"^(?:AIRFLOW|SUPERSET)_IMAGE\s*:=\s*(\S+)", makefile, re.M)}
    assert built == {s["image"] for s in compose["services"].values() if "build" in s}
    bases = {f for df in ROOT.glob("docker/*/Dockerfile") for f in dockerfile(df)[1]}
    bases |= {s["image"] for s in compose["services"].values() if "build" not in s}
    script = (ROOT / "scripts" / "base-images.sh").read_text(encoding="utf-8")
    stood_in = set(re.findall(r'^\s+\["([^"]+)"\]=', script, re.M))
    assert stood_in == bases, "scripts/base-images.sh must know every base image (and only those)"


def test_postgres_and_redis_images_are_the_majors_the_tests_run_against(compose):
    import psycopg2
    import redis

    from anime_dashboard.local_servers import postgres_bin
    from support import PG

    if os.environ.get("ANIME_DASHBOARD_PG_BIN") == str(postgres_bin()):
        pytest.skip("SKIPPED LOUDLY: this run's tests talk to the project-local PostgreSQL 18 and Redis 6.2 "
                    "(ANIME_DASHBOARD_LOCAL_SERVERS), which compose does not run; the images are checked against "
                    "the servers of a run on this machine's own (make test where they answer)")

    with psycopg2.connect(dbname="postgres", **PG) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version_num")
        pg_major = int(cur.fetchone()[0]) // 10000
    redis_major = redis.Redis.from_url(os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")).info(
        "server")["redis_version"].split(".")[0]
    assert re.fullmatch(rf"postgres:{pg_major}\.\d+-bookworm", compose["services"]["postgres"]["image"])
    assert re.fullmatch(rf"redis:{redis_major}\.\d+\.\d+-bookworm", compose["services"]["redis"]["image"])


# --- health checks and start order ---------------------------------------------------------------------------

# what each image has to run a health check with (no curl in either of ours, nor in the Python base)
CHECK_TOOLS = {"postgres": "pg_isready", "redis": "redis-cli", "superset": "python",
               "superset-worker": "/opt/anime_dashboard/.venv-superset/bin/celery",
               "proxy": "bash"}  # the official nginx image has no Python; bash is in it and in the stand-in


def test_every_long_running_service_has_a_health_check_its_image_can_run(compose):
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            assert service["restart"] == "no", name
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no health check"
        assert service["restart"] == "unless-stopped", name
        tool = test[1] if test[0] == "CMD" else shlex.split(test[1])[0]
        allowed = CHECK_TOOLS.get(name, {"python", "airflow", "celery"})
        assert tool in ({allowed} if isinstance(allowed, str) else allowed), f"{name}'s health check runs {tool}"
        if tool.endswith(("airflow", "celery")):  # a CLI start: seconds idle, many more on a busy machine
            assert duration_s(service["healthcheck"]["timeout"]) >= 30, f"{name}: give its check time"
        if name in AIRFLOW_IMAGE_SERVICES or name in SUPERSET_SERVICES:
            assert service.get("init") is True, f"{name}: tini as PID 1 forwards signals and reaps processes"


def test_services_that_start_airflow_or_superset_have_minutes_before_a_failed_check_counts(compose):
    # a check that passes inside start_period makes the service healthy at once, so a long one costs a normal
    # start nothing; a short one (30 s + 5 x 10 s) turns the api-server unhealthy beside the test suite's load
    for name in (AIRFLOW_IMAGE_SERVICES | SUPERSET_SERVICES) - ONE_SHOT - {"jikan-replay"}:
        check = compose["services"][name]["healthcheck"]
        assert duration_s(check["start_period"]) >= 180, f"{name}: start_period {check['start_period']}"


def duration_s(text: str) -> float:
    """A Compose duration as `docker-compose config` prints it ('45s', '3m', '1m30s') in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {text!r}"
    unit = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(n) * unit[u] for n, u in parts)


def test_dependencies_wait_for_health_or_completion(compose):
    for name, service in compose["services"].items():
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in compose["services"], f"{name} depends on unknown {dep}"
            expected = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert cond["condition"] == expected, f"{name} -> {dep}: {cond['condition']}"
            if expected == "service_healthy":
                assert compose["services"][dep].get("healthcheck"), f"{name} waits for {dep}, which has no check"
    needs = {
        "airflow-init": {"postgres", "redis"},
        "airflow-apiserver": {"airflow-init"}, "airflow-scheduler": {"airflow-init"},
        "airflow-dag-processor": {"airflow-init"}, "airflow-triggerer": {"airflow-init"},
        "airflow-worker": {"airflow-init", "airflow-apiserver", "redis"},
        "superset-init": {"postgres", "redis"}, "superset": {"superset-init", "postgres", "redis"},
        "superset-worker": {"superset-init", "redis"}, "superset-import": {"superset", "airflow-init"},
        "proxy": {"superset", "airflow-apiserver"},
    }
    for name, deps in needs.items():
        assert deps <= set(compose["services"][name]["depends_on"]), name


def test_the_airflow_image_has_pg_dump_of_the_postgres_services_major_from_debians_packages(compose):
    _, _, text = dockerfile(ROOT / "docker" / "airflow" / "Dockerfile")
    final = text.split("\nFROM ")[-1]
    assert "COPY build/debs/ /tmp/debs/" in final and "dpkg --install" in final  # offline, no apt-get
    listed = [line.strip() for line in (ROOT / "docker" / "airflow" / "debian-packages.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    major = re.fullmatch(r"postgres:(\d+)\.\d+-bookworm", compose["services"]["postgres"]["image"]).group(1)
    assert listed == [f"postgresql-client-{major}"], "pg_dump must be of the server's major"
    assert "!build/debs" in (ROOT / ".dockerignore").read_text()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^compose-build: .*\bdebs\b", makefile, re.M)


def test_backups_go_to_an_external_volume_that_down_v_does_not_remove(compose):
    volume = compose["volumes"]["backups"]
    assert volume["external"] is True and volume["name"] == "anime-dashboard-backups"
    for name in ("airflow-worker", "airflow-init"):  # the DAG's tasks, and the one-shot an operator restores with
        service = compose["services"][name]
        assert "backups:/opt/airflow/backups:rw" in service["volumes"], name
        assert service_env(service)["ANIME_DASHBOARD_BACKUP_URL"] == "/opt/airflow/backups"
    worker = service_env(compose["services"]["airflow-worker"])
    # the backup reads the three databases: the warehouse, Airflow's metadata and Superset's, as their owners
    assert worker["ANIME_DASHBOARD_SUPERSET_DATABASE_URI"] == service_env(
        compose["services"]["superset"])["ANIME_DASHBOARD_SUPERSET_DATABASE_URI"]
    assert worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    # Airflow hides its own setting from task processes: the backup task reads this one
    assert worker["ANIME_DASHBOARD_AIRFLOW_DATABASE_URI"] == worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    init_sql = (ROOT / "docker" / "postgres" / "init-databases.sql").read_text(encoding="utf-8")
    assert "CREATEROLE CREATEDB" in init_sql  # the warehouse owner makes the scratch databases of a verification
    assert int(worker["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"]) == 300


def test_postgres_and_logs_live_in_named_volumes(compose):
    assert set(compose["volumes"]) >= {"postgres-data", "airflow-logs", "redis-data", "superset-home"}
    assert "postgres-data:/var/lib/postgresql/data:rw" in compose["services"]["postgres"]["volumes"]
    for name in AIRFLOW_TASK_SERVICES - {"superset-import"}:
        assert "airflow-logs:/opt/airflow/logs:rw" in compose["services"][name]["volumes"], name


# --- the front door ------------------------------------------------------------------------------------------

TEMPLATE = ROOT / "docker" / "nginx" / "templates" / "default.conf.template"
HSTS = ['"max-age=31536000; includeSubDomains"', "always"]


def nginx_blocks(text: str) -> list[tuple[str, list[str], list | None]]:
    """An nginx configuration as (directive, arguments, children or None) in order; comments dropped, and
    ${NAME} (filled in by envsubst) kept inside its word."""
    tokens = re.findall(r'"[^"]*"|[{};]|(?:\$\{\w+\}|[^\s{};])+', re.sub(r"#[^\n]*", "", text))

    def block(i: int) -> tuple[list, int]:
        out, args = [], []
        while i < len(tokens):
            token, i = tokens[i], i + 1
            if token in (";", "{"):
                children, i = block(i) if token == "{" else (None, i)
                out.append((args[0], args[1:], children))
                args = []
            elif token == "}":
                return out, i
            else:
                args.append(token)
        return out, i

    return block(0)[0]


def directives(block: list, name: str) -> list[list[str]]:
    return [args for d, args, _ in block if d == name]


@pytest.fixture(scope="module")
def servers() -> dict[str, list]:
    """{"http": the port-80 server block, "https": the port-443 one} of the proxy's template."""
    found = {}
    for d, _, children in nginx_blocks(TEMPLATE.read_text(encoding="utf-8")):
        if d == "server":
            port = directives(children, "listen")[0][0]
            found[{"80": "http", "443": "https"}[port]] = children
    assert set(found) == {"http", "https"}
    return found


def test_only_the_proxy_and_postgres_publish_ports(compose):
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    assert set(published) == {"proxy", "postgres"}, f"only the front door and the warehouse are published: {published}"
    assert sorted(published["proxy"]) == ["127.0.0.1:443:443/tcp", "127.0.0.1:80:80/tcp"]
    moved = load({**secret_env(), "HTTPS_PORT": "8443", "HTTP_PORT": "8080", "ANIME_DASHBOARD_BIND_ADDRESS": "0.0.0.0"})
    assert sorted(moved["services"]["proxy"]["ports"]) == ["0.0.0.0:8080:80/tcp", "0.0.0.0:8443:443/tcp"]
    assert compose["services"]["superset"]["expose"] == ["8088"]
    assert compose["services"]["airflow-apiserver"]["expose"] == ["8080"]


def test_the_proxy_serves_the_template_with_the_certificate_env_names(compose):
    proxy = compose["services"]["proxy"]
    assert proxy["image"] == "nginx:1.22.1" and proxy["init"] is True
    assert sorted(proxy["volumes"]) == sorted([
        f"{TEMPLATE.parent}:/etc/nginx/templates:ro",
        f"{ENV['ANIME_DASHBOARD_TLS_CERT']}:/etc/nginx/tls/tls.crt:ro",
        f"{ENV['ANIME_DASHBOARD_TLS_KEY']}:/etc/nginx/tls/tls.key:ro"])
    env = service_env(proxy)
    assert env == {"ANIME_DASHBOARD_PUBLIC_URL": "https://localhost"}
    # envsubst replaces only variables set in the container: each one the template uses must be
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", TEMPLATE.read_text(encoding="utf-8")))
    assert used == set(env), used
    # Superset trusts the proxy's X-Forwarded-* headers (scheme, host, client address)
    for name in SUPERSET_SERVICES:
        assert service_env(compose["services"][name])["ANIME_DASHBOARD_SUPERSET_PROXY_FIX"] == "true", name


def test_the_proxy_redirects_http_to_the_public_url(servers):
    assert directives(servers["http"], "return") == [["301", "${ANIME_DASHBOARD_PUBLIC_URL}$request_uri"]]
    assert not [d for d, _, _ in servers["http"] if d in ("location", "proxy_pass")], "port 80 only redirects"


def test_the_proxy_sends_hsts_over_tls_only_1_2_and_up(servers):
    https = servers["https"]
    assert directives(https, "listen")[0][:3] == ["443", "ssl", "http2"]
    assert directives(https, "ssl_certificate") == [["/etc/nginx/tls/tls.crt"]]
    assert directives(https, "ssl_certificate_key") == [["/etc/nginx/tls/tls.key"]]
    assert directives(https, "ssl_protocols") == [["TLSv1.2", "TLSv1.3"]]
    assert ["Strict-Transport-Security", *HSTS] in directives(https, "add_header")
    for _, args, children in (b for b in https if b[0] == "location"):
        # a location with add_header of its own inherits none from the server: HSTS must be repeated there
        headers = directives(children, "add_header")
        assert not headers or ["Strict-Transport-Security", *HSTS] in headers, args


def test_the_proxy_passes_superset_at_the_root_and_airflow_under_airflow(servers, compose):
    https = servers["https"]
    locations = {" ".join(args): children for d, args, children in https if d == "location"}
    upstreams = {}
    for where, children in locations.items():
        assert not directives(children, "proxy_set_header"), f"{where}: would drop the server's forwarded headers"
        passes = directives(children, "proxy_pass")
        if passes:
            variables = dict(directives(children, "set"))
            target = variables.get(passes[0][0], passes[0][0])
            # no URI part: the request's path goes through unchanged (/airflow/... to Airflow's base_url)
            assert re.fullmatch(r"http://[a-z-]+:\d+", target), f"{where}: proxy_pass {target}"
            upstreams[where] = target
    assert upstreams == {"/": "http://superset:8088", "/airflow/": "http://airflow-apiserver:8080",
                         "= /airflow/auth/token": "http://airflow-apiserver:8080",
                         "= /airflow/auth/token/cli": "http://airflow-apiserver:8080"}
    for target in upstreams.values():
        host, port = target[len("http://"):].split(":")
        assert port in compose["services"][host]["expose"], target
    assert directives(locations["= /airflow"], "return") == [["301", "/airflow/"]]
    headers = {args[0]: args[1] for args in directives(https, "proxy_set_header")}
    assert headers == {"Host": "$http_host", "X-Real-IP": "$remote_addr",
                       "X-Forwarded-For": "$proxy_add_x_forwarded_for", "X-Forwarded-Proto": "https",
                       "X-Forwarded-Host": "$http_host",
                       "X-Forwarded-Port": "$forwarded_port", "Upgrade": "$http_upgrade",
                       "Connection": "$connection_upgrade"}
    assert directives(https, "proxy_http_version") == [["1.1"]]
    assert directives(https, "proxy_read_timeout") == [["300s"]]


def test_the_proxy_follows_containers_through_dockers_dns_and_throttles_the_token_endpoint(servers):
    top = nginx_blocks(TEMPLATE.read_text(encoding="utf-8"))
    assert directives(top, "resolver")[0][0] == "127.0.0.11"  # per request, so a restarted container is found
    zones = {args[1].split("=")[1].split(":")[0]: args for args in directives(top, "limit_req_zone")}
    assert zones["airflow_token"][0] == "$binary_remote_addr" and "rate=10r/m" in zones["airflow_token"]
    assert directives(top, "limit_req_status") == [["429"]]
    locations = {" ".join(args): children for d, args, children in servers["https"] if d == "location"}
    for where in ("= /airflow/auth/token", "= /airflow/auth/token/cli"):
        assert directives(locations[where], "limit_req") == [["zone=airflow_token", "burst=10", "nodelay"]], where


def test_the_nginx_stand_in_renders_the_template_as_the_official_image_does(tmp_path):
    """The stand-in's entry point: envsubst of each template with only the environment's variables, so
    ${ANIME_DASHBOARD_PUBLIC_URL} is filled in and every nginx $variable is left as written."""
    import os
    import shutil
    import subprocess

    if not shutil.which("envsubst"):
        pytest.skip("envsubst (Debian's gettext-base) is not installed here")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "nginx").write_text("#!/bin/sh\necho \"nginx $*\"\n")
    (fake / "nginx").chmod(0o755)
    url = "https://dash.example.test:8443"
    proc = subprocess.run(["bash", str(ROOT / "docker" / "stand-ins" / "nginx-entrypoint.sh"), "nginx", "-g",
                           "daemon off;"], capture_output=True, text=True, timeout=30, check=True,
                          env={"PATH": f"{fake}:{os.environ['PATH']}", "ANIME_DASHBOARD_PUBLIC_URL": url,
                               "NGINX_ENVSUBST_TEMPLATE_DIR": str(TEMPLATE.parent),
                               "NGINX_ENVSUBST_OUTPUT_DIR": str(tmp_path / "conf.d")})
    assert proc.stdout.strip().endswith("nginx -g daemon off;"), proc.stdout  # then CMD, exec'd
    rendered = (tmp_path / "conf.d" / "default.conf").read_text(encoding="utf-8")
    assert rendered == TEMPLATE.read_text(encoding="utf-8").replace("${ANIME_DASHBOARD_PUBLIC_URL}", url)
    assert f"return 301 {url}$request_uri;" in rendered


def test_the_stand_in_recipes_keep_the_official_images_contracts():
    """scripts/base-images.sh: each base image has a recipe; the ones with a server an entry point from
    docker/stand-ins/; nginx's as the official image: Debian's nginx and envsubst, no Debian default site,
    logs to the container's output, STOPSIGNAL SIGQUIT."""
    script = (ROOT / "scripts" / "base-images.sh").read_text(encoding="utf-8")
    table = dict(re.findall(r'^\s+\["([^"]+)"\]="([^"]*)"', script, re.M))
    recipes = dict(re.findall(r"^    ([a-z]+):\*\)\n(.*?);;", script, re.M | re.S))
    assert {image.split(":")[0] for image in table} == set(recipes)
    for image, packages in table.items():
        name = image.split(":")[0]
        if packages:
            assert "$packages" in recipes[name], name
            assert f"docker/stand-ins/{name}-entrypoint.sh" in recipes[name], name
            assert (ROOT / "docker" / "stand-ins" / f"{name}-entrypoint.sh").stat().st_mode & 0o111, name
    assert table["nginx:1.22.1"] == "nginx gettext-base"
    nginx = recipes["nginx"]
    assert 'rm -f "$dir/etc/nginx/sites-enabled/default"' in nginx
    for log, stream in (("access", "stdout"), ("error", "stderr")):
        assert f'ln -sfn /dev/{stream} "$dir/var/log/nginx/{log}.log"' in nginx
    assert "stop_signal=SIGQUIT" in nginx and "EXPOSE 80 443" in nginx
    assert 'ENTRYPOINT [\\"/docker-entrypoint.sh\\"]' in nginx
    assert 'CMD [\\"nginx\\", \\"-g\\", \\"daemon off;\\"]' in nginx


# --- Redis and settings --------------------------------------------------------------------------------------

def test_redis_databases_keep_airflow_superset_and_our_keys_apart(compose):
    air = service_env(compose["services"]["airflow-worker"])
    sup = service_env(compose["services"]["superset"])
    urls = {
        "airflow broker": air["AIRFLOW__CELERY__BROKER_URL"],
        "anime_dashboard": air["ANIME_DASHBOARD_REDIS_URL"],
        "superset caches": sup["ANIME_DASHBOARD_SUPERSET_REDIS_URL"],
        "superset broker": sup["ANIME_DASHBOARD_SUPERSET_CELERY_BROKER_URL"],
    }
    dbs = {k: re.fullmatch(r"redis://:[^@]+@redis:6379/(\d+)", v).group(1) for k, v in urls.items()}
    assert len(set(dbs.values())) == len(dbs), dbs
    assert service_env(compose["services"]["superset-worker"])["ANIME_DASHBOARD_SUPERSET_CELERY_BROKER_URL"] == \
        urls["superset broker"]


def _env_names_read_by(paths: list[Path]) -> set[str]:
    """Environment variables a Python file reads: os.environ[...] / .get(...) / getenv with a literal, PREFIX +
    "NAME", and calls of helpers that prefix their first argument (settings._float and the like)."""
    from anime_dashboard.settings import PREFIX

    names: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prefixing = {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.args.args and any(
            isinstance(n, ast.BinOp) and isinstance(n.left, ast.Name) and n.left.id == "PREFIX"
            and isinstance(n.right, ast.Name) and n.right.id == f.args.args[0].arg for n in ast.walk(f))}
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Name) and node.left.id == "PREFIX" \
                    and isinstance(node.right, ast.Constant) and isinstance(node.right.value, str):
                names.add(PREFIX + node.right.value)
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                func = node.func
                fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                target = ast.unparse(func)
                if fname in prefixing:
                    names.add(PREFIX + node.args[0].value)
                elif target in ("os.environ.get", "os.getenv", "environ.get", "env.get", "_required"):
                    names.add(node.args[0].value)
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ" \
                    and isinstance(node.slice, ast.Constant):
                names.add(node.slice.value)
    return {n for n in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", n)}


# Read by the code, deliberately left to its default in compose (each with why).
DEFAULT_IS_RIGHT = {
    "ANIME_DASHBOARD_SQL_DIR": "tests only: sql/ sits beside the package in the image",
    "ANIME_DASHBOARD_SUPERSET_ASSETS": "tests only: superset/assets is copied into both images",
    "ANIME_DASHBOARD_SUPERSET_WAREHOUSE_HOST": "Superset reaches the warehouse as `postgres`, like Airflow",
    "ANIME_DASHBOARD_SUPERSET_WAREHOUSE_PORT": "the same 5432 inside the compose network",
    "ANIME_DASHBOARD_SUPERSET_VENV": "set by the Superset image (ENV); unused in the Airflow image",
    "ANIME_DASHBOARD_SUPERSET_HOME": "set by the Superset image and its volume; unused in the Airflow image",
    "ANIME_DASHBOARD_SUPERSET_CACHE_TIMEOUT": "fallback only: every dataset sets its own cache_timeout",
    "ANIME_DASHBOARD_JIKAN_MIN_INTERVAL": "tuning: the defaults are Jikan's published limits",
    "ANIME_DASHBOARD_JIKAN_MAX_ATTEMPTS": "tuning: default 6 tries per page",
    "ANIME_DASHBOARD_JIKAN_BACKOFF_BASE": "tuning: default 2 s, doubled per retry",
    "ANIME_DASHBOARD_JIKAN_BACKOFF_MAX": "tuning: default 60 s",
    "ANIME_DASHBOARD_JIKAN_TIMEOUT": "tuning: default 30 s per request",
    "ANIME_DASHBOARD_JIKAN_PER_SECOND": "tuning: the default is Jikan's published limit",
    "ANIME_DASHBOARD_JIKAN_PER_MINUTE": "tuning: the default is Jikan's published limit",
    "ANIME_DASHBOARD_JIKAN_LIMITER_KEY": "the default key is right: one deployment per Redis database",
    "ANIME_DASHBOARD_SUPERSET_EVENT_LOG": "the default suits production (see docs/benchmarks.md)",
    "ANIME_DASHBOARD_SEED_HISTORY_DAYS": "`make run` only: production keeps real history",
    "PATH": "the image's own, with the project's venv first (Dockerfile ENV)",
    "ANIME_DASHBOARD_BACKUP_KEEP_DAILY": "retention: default 7 daily backups",
    "ANIME_DASHBOARD_BACKUP_KEEP_WEEKLY": "retention: default 4 weekly backups",
    "ANIME_DASHBOARD_BACKUP_KEEP_MONTHLY": "retention: default 12 monthly backups",
    "ANIME_DASHBOARD_BACKUP_VERIFY_DAYS": "a backup is verified at least weekly by default",
    "ANIME_DASHBOARD_PG_BIN": "the Airflow image has Debian's postgresql-client of the server's major (build/debs)",
}
# (service, variable): read by code that this service never runs
NOT_NEEDED_BY = {
    **{(svc, f"ANIME_DASHBOARD_SUPERSET_{login}_{part}"): "serving and the worker need no login"
       for svc in ("superset", "superset-worker") for login in ("ADMIN", "ANALYST", "SERVICE")
       for part in ("USER", "PASSWORD")},
    ("superset-init", "ANIME_DASHBOARD_SUPERSET_CELERY_BROKER_URL"): "bootstrap starts no worker",
    **{(svc, "AIRFLOW_CONN_WAREHOUSE"): "only when ANIME_DASHBOARD_SUPERSET_WAREHOUSE_DB is unset (compose sets it)"
       for svc in ("superset", "superset-init", "superset-worker")},
    ("superset-init", "ANIME_DASHBOARD_SUPERSET_URL"): "bootstrap runs the superset CLI, not the API",
    ("superset", "ANIME_DASHBOARD_SUPERSET_URL"): "it is the server",
    ("superset-worker", "ANIME_DASHBOARD_SUPERSET_URL"): "the worker calls no API",
}


def _python_files(*roots: str) -> list[Path]:
    return sorted(p for r in roots for p in (ROOT / r).rglob("*.py"))


def _check_reaches(compose: dict, services: set[str], names: set[str]) -> list[str]:
    problems = []
    for service in sorted(services):
        env = service_env(compose["services"][service])
        for name in sorted(names):
            if name in env or name in DEFAULT_IS_RIGHT or (service, name) in NOT_NEEDED_BY:
                continue
            problems.append(f"{service}: {name}")
    return problems


def test_every_setting_the_dags_and_include_read_is_set_for_the_airflow_services(compose):
    from anime_dashboard.settings import JIKAN_CONN_ID, SUPERSET_CONN_ID, WAREHOUSE_CONN_ID

    server_py = ROOT / "include" / "anime_dashboard" / "dashboards" / "server.py"
    daily_run_py = ROOT / "include" / "anime_dashboard" / "daily_run.py"  # make run's watcher, on the host
    local_servers_py = ROOT / "include" / "anime_dashboard" / "local_servers.py"  # make run's and make test's
    read = _env_names_read_by([p for p in _python_files("include", "dags", "plugins")
                               if p not in (server_py, daily_run_py, local_servers_py)])
    assert {"ANIME_DASHBOARD_ANALYST_PASSWORD", "ANIME_DASHBOARD_REDIS_URL", "AIRFLOW_CONN_WAREHOUSE"} <= read
    read |= {f"AIRFLOW_CONN_{c.upper()}" for c in (JIKAN_CONN_ID, WAREHOUSE_CONN_ID, SUPERSET_CONN_ID)}
    read -= {n for n in read if n.startswith("ANIME_DASHBOARD_SUPERSET_") and n not in {
        "ANIME_DASHBOARD_SUPERSET_URL", "ANIME_DASHBOARD_SUPERSET_ASYNC_QUERIES"}}
    problems = _check_reaches(compose, AIRFLOW_TASK_SERVICES, read)
    # superset-import (from the Airflow image) signs in as the admin and the analyst; the Airflow services
    # themselves reach Superset only through AIRFLOW_CONN_SUPERSET, as the service login
    importer = service_env(compose["services"]["superset-import"])
    assert {f"ANIME_DASHBOARD_SUPERSET_{k}_{f}" for k in ("ADMIN", "ANALYST") for f in ("USER", "PASSWORD")} <= set(
        importer)
    for service in AIRFLOW_TASK_SERVICES - {"superset-import"}:
        assert "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD" not in service_env(compose["services"][service]), service
    assert not problems, "read by the code but not set in docker-compose.yaml (set it, or add it to " \
                         "DEFAULT_IS_RIGHT with why):\n" + "\n".join(problems)


def test_every_setting_superset_config_and_its_commands_read_is_set_for_the_superset_services(compose):
    read = _env_names_read_by([ROOT / "superset" / "superset_config.py", ROOT / "superset" / "bootstrap.py",
                               ROOT / "include" / "anime_dashboard" / "dashboards" / "server.py"])
    assert {"SUPERSET_SECRET_KEY", "ANIME_DASHBOARD_SUPERSET_DATABASE_URI",
            "ANIME_DASHBOARD_SUPERSET_CELERY_BROKER_URL", "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD"} <= read
    read.discard("ANIME_DASHBOARD_REDIS_URL")  # superset_config's fallback; the compose file sets the Superset one
    problems = _check_reaches(compose, SUPERSET_SERVICES, read)
    assert not problems, "read by Superset's config or commands but not set in docker-compose.yaml:\n" + \
        "\n".join(problems)
    uri = service_env(compose["services"]["superset"])["ANIME_DASHBOARD_SUPERSET_DATABASE_URI"]
    assert uri.startswith("postgresql+psycopg2://superset:") and uri.endswith("@postgres:5432/superset")


def test_the_env_scan_sees_a_new_setting():
    """The scan the two tests above rely on finds every way the code reads a variable."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "m.py"
        f.write_text("import os\nfrom anime_dashboard.settings import PREFIX\n"
                     "def _int(name, d):\n    return int(os.environ.get(PREFIX + name) or d)\n"
                     "A = os.environ.get('ONE')\nB = os.environ['TWO']\nC = os.getenv('THREE')\n"
                     "D = PREFIX + 'FOUR'\nE = _int('FIVE', 1)\n")
        assert _env_names_read_by([f]) == {"ONE", "TWO", "THREE", "ANIME_DASHBOARD_FOUR", "ANIME_DASHBOARD_FIVE"}


def test_the_dags_connections_and_pool_come_from_compose_and_airflow_init(compose, dags):
    from anime_dashboard.settings import JIKAN_POOL

    pools = {t.pool for dag in dags.values() for t in dag.tasks} - {"default_pool"}
    assert pools == {JIKAN_POOL}
    init = command_text(compose["services"]["airflow-init"])
    assert "anime-dashboard setup" in init  # creates the pool (tests/integration/test_setup_command.py)
    worker = service_env(compose["services"]["airflow-worker"])
    jikan = json.loads(worker["AIRFLOW_CONN_JIKAN_DEFAULT"])
    assert (jikan["host"], jikan["port"], jikan["schema"]) == ("api.jikan.moe", 443, "https")
    offline = json.loads(load({**secret_env(), "JIKAN_HOST": "jikan-replay", "JIKAN_PORT": "8765",
                               "JIKAN_SCHEME": "http"})["services"]["airflow-worker"]["environment"][
        "AIRFLOW_CONN_JIKAN_DEFAULT"])
    replay = compose["services"]["jikan-replay"]
    assert (offline["host"], str(offline["port"])) == ("jikan-replay", replay["command"][-1])
    superset = json.loads(worker["AIRFLOW_CONN_SUPERSET"])
    assert (superset["host"], superset["port"]) == ("superset", 8088)
    assert (superset["login"], superset["password"]) == ("pipeline", ENV["ANIME_DASHBOARD_SUPERSET_SERVICE_PASSWORD"])
    assert worker["AIRFLOW_CONN_WAREHOUSE"].endswith("@postgres:5432/anime_dashboard")


# --- one setup path ------------------------------------------------------------------------------------------

def _commands(text: str) -> set[str]:
    """`airflow X` / `anime-dashboard X` invocations in a shell text."""
    return {" ".join(m) for m in re.findall(r"\b(airflow|anime-dashboard)\s+([a-z][a-z-]*(?:\s+[a-z][a-z-]*)?)",
                                             text)}


def test_init_services_run_the_same_entry_points_as_the_local_main_job(compose):
    run_sh = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    local = {c.split()[0] + " " + c.split()[1] for c in _commands(run_sh)}
    init = compose["services"]["airflow-init"]
    script = init["command"][-1]
    steps = [shlex.split(s) for s in script.split(";") if s.strip() and not s.strip().startswith("set ")]
    assert [" ".join(s[:2]) if s[0] == "anime-dashboard" else " ".join(s[:3]) for s in steps] == [
        "airflow db migrate", "anime-dashboard airflow-users", "anime-dashboard setup"]
    for step in steps:
        assert " ".join(step[:2]) in local, f"airflow-init runs `{' '.join(step)}`, which `make run` does not"
    assert "airflow db migrate" in run_sh
    for name, expected in (("superset-init", "anime-dashboard superset-bootstrap"),
                           ("superset-import", "anime-dashboard superset-import"),
                           ("superset", "anime-dashboard superset-serve")):
        text = command_text(compose["services"][name])
        assert text == expected, f"{name}: {text}"
        assert expected in run_sh, f"`make run` does not run `{expected}`"
    from anime_dashboard.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])  # the commands the services name exist in the CLI
    import anime_dashboard.cli as cli

    for name in ("airflow-users", "setup", "superset-bootstrap", "superset-serve", "superset-worker",
                 "superset-import"):
        assert name in cli.__doc__


def _settings_table_names(text: str) -> set[str]:
    """The variables the first column of the Settings table in docs/configuration.md names."""
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for row in re.findall(r"^\| ([^|]+) \|", table, flags=re.M):
        documented |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", row))
        for short in re.findall(r"`([A-Z][A-Z0-9_]+)` / `_([A-Z0-9_]+)`", row):  # `X_HOST` / `_PORT`
            documented.add(short[0].rsplit("_", len(short[1].split("_")))[0] + "_" + short[1])
    return documented


def test_configuration_doc_documents_every_setting_the_code_reads():
    read = _env_names_read_by(_python_files("include", "dags", "plugins") + [ROOT / "superset" / "superset_config.py",
                                                                             ROOT / "superset" / "bootstrap.py"])
    documented = _settings_table_names((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))
    missing = sorted(read - documented - {"PATH"})
    assert not missing, f"docs/configuration.md's Settings table does not list: {missing}"


def test_the_settings_table_check_sees_a_missing_row():
    text = ("## Settings\n\n| variable | default | what |\n|---|---|---|\n| `A_ONE` | `1` | uses `B_TWO` |\n"
            "| `C_HOST` / `_PORT` | x | y |\n\n## Next\n\n| `D_FOUR` | | |\n")
    assert _settings_table_names(text) == {"A_ONE", "C_HOST", "C_PORT"}
