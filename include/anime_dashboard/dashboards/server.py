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

from anime_dashboard.settings import PREFIX, is_weak_password

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


def settings(require_password: bool = True) -> SupersetSettings:
    """``ANIME_DASHBOARD_SUPERSET_*`` from the environment, read now."""
    host = os.environ.get(PREFIX + "SUPERSET_HOST") or "127.0.0.1"
    port = int(os.environ.get(PREFIX + "SUPERSET_PORT") or DEFAULT_PORT)
    password = os.environ.get(PREFIX + "SUPERSET_ADMIN_PASSWORD") or ""
    if require_password:
        if not password:
            raise SupersetSetupError(
                f"{PREFIX}SUPERSET_ADMIN_PASSWORD is not set: set it, or let `make run` generate one into .env")
        if is_weak_password(password):
            raise SupersetSetupError(f"{PREFIX}SUPERSET_ADMIN_PASSWORD is too weak: use 12+ characters, "
                                     "not a default such as admin")
    return SupersetSettings(
        url=(os.environ.get(PREFIX + "SUPERSET_URL") or f"http://{host}:{port}").rstrip("/"),
        host=host,
        port=port,
        admin_user=os.environ.get(PREFIX + "SUPERSET_ADMIN_USER") or "admin",
        admin_password=password,
        venv=Path(os.environ.get(PREFIX + "SUPERSET_VENV") or ROOT / ".venv-superset"),
        home=Path(os.environ.get(PREFIX + "SUPERSET_HOME") or ROOT / ".superset"),
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


def bootstrap(s: SupersetSettings) -> list[str]:
    """db upgrade, the admin user (password from the environment; reset to it if the user exists), init.

    Superset's own CLI commands, run in one Superset process (superset/bootstrap.py), not three. Idempotent.
    Returns what it did, one line per step."""
    s.home.mkdir(parents=True, exist_ok=True)
    python = s.venv / "bin" / "python"
    if not (s.venv / "bin" / "superset").exists():
        raise SupersetSetupError(f"{s.venv / 'bin' / 'superset'} is missing: `make install` builds Superset's "
                                 "virtualenv")
    env = superset_env(s)
    env[PREFIX + "SUPERSET_ADMIN_PASSWORD"] = s.admin_password
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
