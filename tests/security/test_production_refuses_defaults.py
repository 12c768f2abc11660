"""Superset and Airflow refuse to start with default secrets; each check runs the real entry point.

- Superset: ``superset version`` (the CLI builds the whole app with create_app) and gunicorn's
  ``superset.app:create_app()`` (what ``anime-dashboard superset-serve`` and the compose service run), with
  SUPERSET_CONFIG_PATH and the rest of the environment from ``anime_dashboard.dashboards.server.superset_env``.
- Superset's logins (admin, analyst, service): ``anime-dashboard superset-bootstrap`` (superset-init in compose)
  with a missing or weak password.
- Airflow's logins (admin, viewer, engineer): ``anime-dashboard airflow-users`` (airflow-init in compose) with a
  missing or weak password, or with an auth manager other than FAB's.
- Airflow's fernet key, JWT secret and API secret key have no default anywhere: docker-compose.yaml requires
  each (``${VAR:?}``), proven by tests/compose/test_compose_file.py::test_every_secret_is_required_wherever_
  it_is_used and ::test_compose_stops_with_a_clear_message_when_a_secret_is_unset.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from anime_dashboard.dashboards import server
from support import AIRFLOW_LOGINS

ROOT = Path(__file__).resolve().parents[2]
ANIME_DASHBOARD = Path(sys.executable).parent / "anime-dashboard"


@pytest.fixture
def superset_home(tmp_path, monkeypatch):
    """A private Superset home (SQLite metadata) and admin settings; the secret key is set by each test."""
    monkeypatch.setenv("ANIME_DASHBOARD_SUPERSET_HOME", str(tmp_path / "superset"))
    for key in ("ADMIN", "ANALYST", "SERVICE"):
        monkeypatch.setenv(f"ANIME_DASHBOARD_SUPERSET_{key}_PASSWORD", secrets.token_urlsafe(18))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("ANIME_DASHBOARD_SUPERSET_PORT", str(s.getsockname()[1]))
    monkeypatch.setenv("ANIME_DASHBOARD_SUPERSET_HOST", "127.0.0.1")
    (tmp_path / "superset").mkdir()
    return tmp_path / "superset"


def superset_env_with_key(key: str | None) -> dict[str, str]:
    """superset_env() of the project, with SUPERSET_SECRET_KEY set to ``key`` (None: not set at all)."""
    os.environ["SUPERSET_SECRET_KEY"] = "placeholder-only-to-build-the-environment-0123456789"
    try:
        env = server.superset_env(server.settings())
    finally:
        del os.environ["SUPERSET_SECRET_KEY"]
    env.pop("SUPERSET_SECRET_KEY")
    if key is not None:
        env["SUPERSET_SECRET_KEY"] = key
    return env


def superset_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Superset's own CLI; its stdout without colour codes."""
    result = subprocess.run([str(server.settings().venv / "bin" / "superset"), *args], env=env,
                            capture_output=True, text=True, timeout=180)
    result.stdout = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    return result


REFUSED_KEYS = {
    "unset": (None, "SUPERSET_SECRET_KEY is not set"),
    "empty": ("", "SUPERSET_SECRET_KEY is not set"),
    "superset-default": ("CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET", "published default key"),
    "superset-docker-env": ("TEST_NON_DEV_SECRET", "published default key"),
    "superset-docs-example": ("YOUR_OWN_RANDOM_GENERATED_SECRET_KEY", "published default key"),
    "fab-default": ("\2\1thisismyscretkey\1\2\\e\\y\\y\\h", "published default key"),
    "fab-default-as-text": (r"\2\1thisismyscretkey\1\2\e\y\y\h", "published default key"),
    "jwt-default-reused": ("test-secret-change-me", "published default key"),
    "change-me-padded": ("please-change-me-0123456789abcdefghijklmnop", "published default key"),
    "31-characters": (None, "SUPERSET_SECRET_KEY is too short (31 characters; at least 32)"),
}


@pytest.mark.slow  # starts Superset (one process per case): make test-fast leaves it out
@pytest.mark.parametrize("case", REFUSED_KEYS)
def test_superset_refuses_to_start_with_a_missing_default_or_short_secret_key(superset_home, case):
    key, message = REFUSED_KEYS[case]
    if case == "31-characters":
        key = secrets.token_urlsafe(24)[:31]
    result = superset_cli(superset_env_with_key(key), "version")
    assert result.returncode != 0, f"Superset started with SUPERSET_SECRET_KEY={case}:\n{result.stdout[-1000:]}"
    assert message in result.stderr, result.stderr[-2000:]
    assert "Superset 6." not in result.stdout


def test_the_project_wrapper_refuses_to_build_superset_environment_without_a_key(superset_home, monkeypatch):
    monkeypatch.delenv("SUPERSET_SECRET_KEY", raising=False)
    with pytest.raises(server.SupersetSetupError, match="SUPERSET_SECRET_KEY is not set"):
        server.superset_env(server.settings())


@pytest.mark.slow  # starts Superset (one process per case): make test-fast leaves it out
def test_the_production_server_exits_at_once_with_superset_default_key(superset_home):
    """gunicorn with superset.app:create_app(): its worker cannot boot, so the master exits (code 3)."""
    s = server.settings()
    proc = subprocess.Popen(server.serve_command(s, workers=1),
                            env=superset_env_with_key("CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("gunicorn kept running with Superset's default SECRET_KEY")
    assert proc.returncode == 3, out[-2000:]
    assert "SUPERSET_SECRET_KEY is a published default key" in out
    assert "Worker failed to boot" in out


APP_FACTS = """
import json, os
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset import is_feature_enabled
    print(json.dumps({
        "SECRET_KEY": app.config["SECRET_KEY"],
        "GLOBAL_ASYNC_QUERIES": is_feature_enabled("GLOBAL_ASYNC_QUERIES"),
        "EMBEDDED_SUPERSET": is_feature_enabled("EMBEDDED_SUPERSET"),
        "GLOBAL_ASYNC_QUERIES_JWT_SECRET": app.config["GLOBAL_ASYNC_QUERIES_JWT_SECRET"],
        "GUEST_TOKEN_JWT_SECRET": app.config["GUEST_TOKEN_JWT_SECRET"],
    }))
"""
PUBLISHED_JWT_SECRETS = {"test-secret-change-me", "test-guest-secret-change-me"}  # superset/config.py defaults


def app_facts(env: dict[str, str]) -> dict:
    """The running app's secrets and feature flags (create_app, as gunicorn builds it)."""
    result = subprocess.run([str(server.settings().venv / "bin" / "python"), "-c", APP_FACTS], env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


GENERATED_KEYS = {"token_urlsafe(42)": lambda: secrets.token_urlsafe(42),
                  "token_hex(16)": lambda: secrets.token_hex(16), "token_hex(24)": lambda: secrets.token_hex(24)}


@pytest.mark.slow  # starts Superset (one process per case): make test-fast leaves it out
@pytest.mark.parametrize("generator", GENERATED_KEYS)
def test_superset_starts_with_a_generated_key_and_no_published_secret_is_in_effect(superset_home, generator):
    """make run: token_urlsafe(42); make compose-env: token_hex(24); the compose tests: token_hex(16) (32).

    Superset's own defaults for the async-queries and guest-token JWT secrets are published; both features are
    off, and both secrets are derived from the secret key all the same."""
    key = GENERATED_KEYS[generator]()
    env = superset_env_with_key(key)
    version = superset_cli(env, "version")
    assert version.returncode == 0, version.stderr[-2000:]
    assert "Superset 6.1" in version.stdout
    app = app_facts(env)
    assert app["SECRET_KEY"] == key
    assert app["GLOBAL_ASYNC_QUERIES"] is False and app["EMBEDDED_SUPERSET"] is False, app
    jwt = {app["GLOBAL_ASYNC_QUERIES_JWT_SECRET"], app["GUEST_TOKEN_JWT_SECRET"]}
    assert not jwt & PUBLISHED_JWT_SECRETS, "a JWT secret is Superset's published default"
    assert len(jwt) == 2 and key not in jwt and all(len(s) >= 32 for s in jwt)


@pytest.mark.slow  # starts Superset (one process per case): make test-fast leaves it out
def test_turning_embedding_on_from_the_environment_still_signs_with_a_secret_of_our_own(superset_home):
    """SUPERSET_FEATURE_EMBEDDED_SUPERSET=true needs no config change; guest tokens are then signed with
    GUEST_TOKEN_JWT_SECRET, which must not be the published default. Two keys give two secrets."""
    first, second = (superset_env_with_key(secrets.token_urlsafe(42)) for _ in range(2))
    for env in (first, second):
        env["SUPERSET_FEATURE_EMBEDDED_SUPERSET"] = "true"
    a, b = app_facts(first), app_facts(second)
    assert a["EMBEDDED_SUPERSET"] is True
    assert a["GUEST_TOKEN_JWT_SECRET"] not in PUBLISHED_JWT_SECRETS
    assert a["GUEST_TOKEN_JWT_SECRET"] != b["GUEST_TOKEN_JWT_SECRET"]


# --- admin passwords -------------------------------------------------------------------------------------------

def anime_dashboard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ANIME_DASHBOARD), *args], env=env, capture_output=True, text=True, timeout=180)


def assert_refuses(env: dict[str, str], variable: str, password: str | None, command: str) -> None:
    """`anime-dashboard <command>` with ``variable`` unset (``password`` None) or set to ``password`` exits
    non-zero, saying which variable is not set or too weak."""
    env.pop(variable)
    if password is not None:
        env[variable] = password
    result = anime_dashboard(env, command)
    assert result.returncode != 0
    expected = "is not set" if password is None else "is too weak"
    assert f"{variable} {expected}" in result.stdout + result.stderr


@pytest.mark.parametrize("login,password", [("ADMIN", None), ("ADMIN", "admin"), ("ADMIN", "superset"),
                                            ("ADMIN", "Sh0rt-pass1"), ("ANALYST", None), ("ANALYST", "password"),
                                            ("SERVICE", None), ("SERVICE", "Sh0rt-pass1")])
def test_superset_bootstrap_refuses_a_missing_or_weak_login_password_before_touching_anything(
        superset_home, login, password):
    variable = f"ANIME_DASHBOARD_SUPERSET_{login}_PASSWORD"
    env = dict(os.environ, SUPERSET_SECRET_KEY=secrets.token_urlsafe(42))  # the operator's environment
    assert_refuses(env, variable, password, "superset-bootstrap")
    assert list(superset_home.iterdir()) == [], "bootstrap created Superset's metadata before refusing"


@pytest.fixture
def airflow_env(tmp_path):
    """An Airflow home (SQLite metadata, not migrated) with the FAB auth manager and the three logins as
    scripts/env.sh configures them, each with a strong password."""
    from support import airflow_logins_env

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANIME_DASHBOARD_AIRFLOW_", "AIRFLOW__"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"),
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}",
               **airflow_logins_env())
    (tmp_path / "airflow").mkdir()
    return env


def airflow_users_table(env: dict[str, str]) -> list[tuple]:
    """The FAB users in the home's metadata database: [] when there is no database or no users table."""
    import sqlite3

    path = Path(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ab_user'").fetchall():
            return []
        return conn.execute("SELECT username FROM ab_user").fetchall()


@pytest.mark.parametrize("login", AIRFLOW_LOGINS)
@pytest.mark.parametrize("password", [None, "airflow", "admin", "Sh0rt-pass1"])
def test_airflow_users_refuses_a_missing_or_weak_password_and_creates_no_user(airflow_env, login, password):
    variable = f"ANIME_DASHBOARD_AIRFLOW_{login}_PASSWORD"
    assert_refuses(airflow_env, variable, password, "airflow-users")
    assert airflow_users_table(airflow_env) == []


def test_airflow_users_makes_the_three_logins_with_their_roles_and_prints_no_password(airflow_env):
    migrated = subprocess.run([str(ANIME_DASHBOARD.parent / "airflow"), "db", "migrate"], env=airflow_env,
                              capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    result = anime_dashboard(airflow_env, "airflow-users")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(airflow_users_table(airflow_env)) == [("admin",), ("engineer",), ("viewer",)]
    for line in ("admin: created (Admin)", "viewer: created (Viewer)", "engineer: created (Op)"):
        assert line in result.stdout + result.stderr
    for key in AIRFLOW_LOGINS:
        assert airflow_env[f"ANIME_DASHBOARD_AIRFLOW_{key}_PASSWORD"] not in result.stdout + result.stderr


def test_airflow_users_refuses_an_auth_manager_other_than_fab(airflow_env):
    airflow_env["AIRFLOW__CORE__AUTH_MANAGER"] = (
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
    result = anime_dashboard(airflow_env, "airflow-users")
    assert result.returncode != 0
    assert "AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager" in (
        result.stdout + result.stderr)
    assert airflow_users_table(airflow_env) == []
