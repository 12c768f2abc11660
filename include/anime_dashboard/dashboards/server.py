"""Superset's own environment: its settings, the bootstrap (db upgrade, admin, init) and the server command.

Superset runs from its own virtualenv (``.venv-superset``, pinned by ``superset/requirements.txt``): it
needs SQLAlchemy < 2, Airflow needs >= 2. The local main job, the tests and the compose services all go
through these functions, so there is one setup path.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from anime_dashboard.settings import PREFIX, PasswordError, login_password

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_PORT = 8088
BOOTSTRAP = ROOT / "superset" / "bootstrap.py"
BOOTSTRAP_STEP = "bootstrap step: "  # as superset/bootstrap.py prints its steps


class SupersetSetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class SupersetSettings:
    url: str
    host: str
    port: int
    admin_user: str
    admin_password: str
    venv: Path
    home: Path
    analyst_user: str = "analyst"
    analyst_password: str = ""
    service_user: str = "pipeline"
    service_password: str = ""

    def logins(self) -> dict[str, tuple[str, str]]:
        """{key of LOGINS: (user, password)}"""
        return {"ADMIN": (self.admin_user, self.admin_password), "ANALYST": (self.analyst_user, self.analyst_password),
                "SERVICE": (self.service_user, self.service_password)}


# the logins bootstrap sets up, by the middle of their variables' names: ANIME_DASHBOARD_SUPERSET_<KEY>_USER
# and _PASSWORD (superset/bootstrap.py gives each its role), with their default user names
LOGINS = {"ADMIN": "admin", "ANALYST": "analyst", "SERVICE": "pipeline"}


def _login(key: str, require_password: bool) -> tuple[str, str]:
    user = os.environ.get(f"{PREFIX}SUPERSET_{key}_USER") or LOGINS[key]
    if not require_password:
        return user, os.environ.get(f"{PREFIX}SUPERSET_{key}_PASSWORD") or ""
    try:
        return user, login_password(f"SUPERSET_{key}_PASSWORD")
    except PasswordError as exc:
        raise SupersetSetupError(str(exc)) from exc


def settings(require: tuple[str, ...] = tuple(LOGINS)) -> SupersetSettings:
    """``ANIME_DASHBOARD_SUPERSET_*`` from the environment, read now; the logins of ``require`` (keys of
    LOGINS) must have a strong password."""
    host = os.environ.get(PREFIX + "SUPERSET_HOST") or "127.0.0.1"
    port = int(os.environ.get(PREFIX + "SUPERSET_PORT") or DEFAULT_PORT)
    logins = {key: _login(key, key in require) for key in LOGINS}
    users = [user for user, _ in logins.values()]
    if len(set(users)) < len(users):
        raise SupersetSetupError(f"the Superset admin, analyst and service logins need three different user names "
                                 f"(ANIME_DASHBOARD_SUPERSET_*_USER: {', '.join(users)}): each has its own role")
    return SupersetSettings(
        url=(os.environ.get(PREFIX + "SUPERSET_URL") or f"http://{host}:{port}").rstrip("/"),
        host=host,
        port=port,
        admin_user=logins["ADMIN"][0],
        admin_password=logins["ADMIN"][1],
        venv=Path(os.environ.get(PREFIX + "SUPERSET_VENV") or ROOT / ".venv-superset"),
        home=Path(os.environ.get(PREFIX + "SUPERSET_HOME") or ROOT / ".superset"),
        analyst_user=logins["ANALYST"][0],
        analyst_password=logins["ANALYST"][1],
        service_user=logins["SERVICE"][0],
        service_password=logins["SERVICE"][1],
    )


def superset_env(s: SupersetSettings) -> dict[str, str]:
    """The environment Superset's processes run with (config file, its home, its venv first on PATH)."""
    env = dict(os.environ)
    if not env.get("SUPERSET_SECRET_KEY"):
        raise SupersetSetupError("SUPERSET_SECRET_KEY is not set: Superset refuses to start without one "
                                 "(`make run` generates one into .env)")
    env.pop("PYTHONPATH", None)  # the project's packages are not Superset's
    env["SUPERSET_CONFIG_PATH"] = str(ROOT / "superset" / "superset_config.py")
    env["FLASK_APP"] = "superset"
    env[PREFIX + "SUPERSET_HOME"] = str(s.home)
    env["PATH"] = f"{s.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def warehouse_database() -> str:
    """The warehouse's Postgres database name, which Superset 6 calls its catalog and names in SQL Lab's schema
    permissions (superset/roles/): ``ANIME_DASHBOARD_SUPERSET_WAREHOUSE_DB``, else AIRFLOW_CONN_WAREHOUSE's."""
    name = os.environ.get(PREFIX + "SUPERSET_WAREHOUSE_DB")
    if not name and os.environ.get("AIRFLOW_CONN_WAREHOUSE"):
        from anime_dashboard.warehouse.db import connection_params

        name = connection_params().get("dbname")
    if not name:
        raise SupersetSetupError(f"{PREFIX}SUPERSET_WAREHOUSE_DB is not set (nor AIRFLOW_CONN_WAREHOUSE): the "
                                 "analysts' role names the warehouse's Postgres database")
    return name


def bootstrap(s: SupersetSettings) -> list[str]:
    """db upgrade, the admin user (password from the environment; reset to it if the user exists), init, the
    roles of superset/roles/ and the analyst's and the service's logins.

    Superset's own CLI commands, run in one Superset process (superset/bootstrap.py), not three. Idempotent.
    Returns what it did, one line per step."""
    s.home.mkdir(parents=True, exist_ok=True)
    python = s.venv / "bin" / "python"
    if not (s.venv / "bin" / "superset").exists():
        raise SupersetSetupError(f"{s.venv / 'bin' / 'superset'} is missing: `make install` builds Superset's "
                                 "virtualenv")
    env = superset_env(s)
    env[PREFIX + "SUPERSET_WAREHOUSE_DB"] = warehouse_database()
    for key, (user, password) in s.logins().items():
        env[f"{PREFIX}SUPERSET_{key}_USER"], env[f"{PREFIX}SUPERSET_{key}_PASSWORD"] = user, password
    proc = subprocess.run([str(python), str(BOOTSTRAP), s.admin_user], env=env, capture_output=True, text=True,
                          check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(out.strip().splitlines()[-25:])
        raise SupersetSetupError(f"Superset's bootstrap (superset/bootstrap.py) failed (exit {proc.returncode}):"
                                 f"\n{tail}")
    return [line.removeprefix(BOOTSTRAP_STEP) for line in proc.stdout.splitlines()
            if line.startswith(BOOTSTRAP_STEP)]


def serve_command(s: SupersetSettings, workers: int = 2, threads: int = 8) -> list[str]:
    """gunicorn serving Superset on s.host:s.port (run it with superset_env(s))."""
    return [str(s.venv / "bin" / "gunicorn"), "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread", "--timeout", "120", "--bind", f"{s.host}:{s.port}",
            "--access-logfile", "-", "--limit-request-line", "0", "--limit-request-field_size", "0",
            "superset.app:create_app()"]


def worker_command(s: SupersetSettings, concurrency: int = 2) -> list[str]:
    """Superset's Celery worker (async SQL Lab); needs ANIME_DASHBOARD_SUPERSET_CELERY_BROKER_URL."""
    if not os.environ.get(PREFIX + "SUPERSET_CELERY_BROKER_URL"):
        raise SupersetSetupError(f"{PREFIX}SUPERSET_CELERY_BROKER_URL is not set: the worker needs a broker "
                                 "(docker-compose sets a Redis database of its own)")
    return [str(s.venv / "bin" / "celery"), "--app=superset.tasks.celery_app:app", "worker",
            "--pool=prefork", "-O", "fair", f"--concurrency={concurrency}", "--loglevel=INFO"]
