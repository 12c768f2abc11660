"""A throwaway Superset: its settings in the environment, bootstrapped and served by the functions `make run` uses
(gunicorn from .venv-superset), and everything it leaves (process group, Redis keys, home) removed afterwards."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testkit.ports import free_port
from testkit.redis import delete_keys

# every setting of anime_dashboard.dashboards.server a throwaway Superset may set (bench/superset_cache.py clears
# them all before each setup, so that one setup's choice does not leak into the next)
SETTINGS = ("SUPERSET_SECRET_KEY", "ANIME_DASHBOARD_SUPERSET_HOME", "ANIME_DASHBOARD_SUPERSET_PORT",
            "ANIME_DASHBOARD_SUPERSET_HOST", "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD",
            "ANIME_DASHBOARD_SUPERSET_ANALYST_PASSWORD", "ANIME_DASHBOARD_SUPERSET_SERVICE_PASSWORD",
            "ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX", "ANIME_DASHBOARD_SUPERSET_EVENT_LOG",
            "ANIME_DASHBOARD_SUPERSET_DATABASE_URI", "ANIME_DASHBOARD_SUPERSET_URL")


def throwaway_env(home: Path, prefix: str) -> dict[str, str]:
    """The settings of a Superset of its own: home, a free loopback port, fresh secrets and passwords, and a
    Redis key prefix (its cache entries are the keys ``<prefix>_*``)."""
    return {
        "SUPERSET_SECRET_KEY": secrets.token_urlsafe(42),
        "ANIME_DASHBOARD_SUPERSET_HOME": str(home),
        "ANIME_DASHBOARD_SUPERSET_PORT": str(free_port()),
        "ANIME_DASHBOARD_SUPERSET_HOST": "127.0.0.1",
        "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "ANIME_DASHBOARD_SUPERSET_ANALYST_PASSWORD": secrets.token_urlsafe(18),
        "ANIME_DASHBOARD_SUPERSET_SERVICE_PASSWORD": secrets.token_urlsafe(18),
        "ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX": prefix,
    }


@contextmanager
def environ(values: dict[str, str | None]) -> Iterator[None]:
    """os.environ with ``values`` set (None: unset) inside the block, as it was afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: dict[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def start(settings, log_path: Path, command: list[str] | None = None, timeout: float = 180):
    """Bootstrap the Superset of ``settings`` (anime_dashboard.dashboards.server.SupersetSettings) and serve it
    with ``command`` (default: serve_command with one worker), output to ``log_path``, until /health answers;
    the process (its own process group) and a SupersetClient logged in as the admin. If it does not come up,
    it is stopped and the error carries the end of its log."""
    from anime_dashboard.dashboards import server
    from anime_dashboard.dashboards.client import SupersetClient

    server.bootstrap(settings)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command or server.serve_command(settings, workers=1), env=server.superset_env(settings),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = SupersetClient(settings.url, settings.admin_user, settings.admin_password)
    try:
        client.wait_healthy(timeout)
    except Exception as exc:
        stop(proc)
        raise RuntimeError(f"Superset did not start; its log:\n{Path(log_path).read_text()[-4000:]}") from exc
    return proc, client


def stop(proc: subprocess.Popen | None, prefix: str | None = None, home: Path | None = None) -> None:
    """The server's process group stopped (SIGTERM, SIGKILL after 30 s), its Redis keys ``<prefix>_*`` and its
    home removed."""
    if proc is not None:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(30)
        except ProcessLookupError:
            pass
    if prefix:
        delete_keys(f"{prefix}_*", os.environ.get("ANIME_DASHBOARD_SUPERSET_REDIS_URL"))
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)
