"""scripts/run.sh (`make run`) as a user runs it, for the tests of the main job: its environment, private to a test,
and the job in a session of its own with its output, processes and ports."""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from support import ROOT, RUN_TOKEN
from testkit.ports import free_port
from testkit.warehouse import pg_uri

STOP_WITHIN = 10  # seconds from the signals to no process and no port left (run.sh allows each session 3 s)
PORTS = ("AIRFLOW__API__PORT", "ANIME_DASHBOARD_REPLAY_PORT", "ANIME_DASHBOARD_SUPERSET_PORT")
SECRETS = ("ANIME_DASHBOARD_ANALYST_PASSWORD", "SUPERSET_SECRET_KEY", "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD",
           "ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_CONN_SUPERSET", "AIRFLOW_CONN_JIKAN_DEFAULT")


def main_job_env(tmp_path: Path, warehouse: str, **extra: str) -> dict[str, str]:
    """What a user's shell would have, with everything private to this test; run.sh generates the secrets
    into the test's own .env, as on a fresh clone."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW__", "ANIME_DASHBOARD_")) and k not in SECRETS and k != "AIRFLOW_HOME"}
    env.update({
        "ANIME_DASHBOARD_ENV_FILE": str(tmp_path / ".env"),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(tmp_path / "airflow" / "logs"),
        "AIRFLOW_CONN_WAREHOUSE": pg_uri(warehouse),
        "ANIME_DASHBOARD_ANALYST_USER": f"ad_run_analyst_{RUN_TOKEN}",
        "ANIME_DASHBOARD_REDIS_URL": os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "ANIME_DASHBOARD_JIKAN_LIMITER_KEY": f"ad_test_{RUN_TOKEN}_main_{secrets.token_hex(4)}:starts",
        "ANIME_DASHBOARD_SUPERSET_HOME": str(tmp_path / "superset"),
        "ANIME_DASHBOARD_SUPERSET_CACHE_PREFIX": f"ad_test_{RUN_TOKEN}_run",
        "ANIME_DASHBOARD_SEED_HISTORY_DAYS": "3",
        "ANIME_DASHBOARD_BACKUP_URL": str(tmp_path / "backups"),
        "JIKAN_OFFLINE": "1",
        **{name: str(free_port()) for name in PORTS},
        **extra,
    })
    return env


def as_in_a_terminal() -> None:
    """SIGINT and SIGTERM as a terminal's shell leaves them for the job it starts. When the test run itself
    is started in the background (nohup ... &, as a CI runner does), SIGINT arrives here ignored, and bash can neither
    trap nor reset a signal ignored at its start, so Ctrl-C would be tested as ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class MainJob:
    """scripts/run.sh in a new session (its own process group), output to a log."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=as_in_a_terminal)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text(), flags=re.M)
            if found:
                return found
            if self.proc.poll() is not None:
                pytest.fail(f"run.sh exited {self.proc.returncode} before /{pattern}/:\n{self.text()[-6000:]}")
            time.sleep(0.5)
        pytest.fail(f"no /{pattern}/ in {timeout:.0f} s:\n{self.text()[-6000:]}")

    def tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [root] + root.children(recursive=True)

    def listening(self) -> dict[str, str]:
        """{address:port: process} of every socket the job's processes listen on."""
        found = {}
        for p in self.tree():
            try:
                for c in p.net_connections(kind="inet"):
                    if c.status == psutil.CONN_LISTEN:
                        found[f"{c.laddr.ip}:{c.laddr.port}"] = " ".join(p.cmdline())[:120]
            except psutil.NoSuchProcess:
                pass
        return found

    def stop_with(self, signum: int) -> tuple[float, list[str]]:
        """The signal twice, 50 ms apart, to the job's process group (what Ctrl-C in its terminal does for
        SIGINT); seconds until no process of its tree is left, and what is left after STOP_WITHIN."""
        procs = self.tree()
        assert len(procs) > 5, [p.name() for p in procs]  # services and a step are running
        started = time.monotonic()
        os.killpg(self.proc.pid, signum)
        time.sleep(0.05)
        os.killpg(self.proc.pid, signum)
        _, alive = psutil.wait_procs(procs, timeout=STOP_WITHIN)
        seconds = time.monotonic() - started
        left = []
        for p in alive:
            try:
                left.append(f"{p.pid} {' '.join(p.cmdline())[:200]}")
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.wait(10)
        print(f"{signal.Signals(signum).name} twice: {len(procs)} processes gone in {seconds:.1f} s")
        return seconds, left

    def ports_in_use(self) -> list[str]:
        """The job's ports a new run could not listen on (as servers do, with SO_REUSEADDR: connections of
        the old run may linger in TIME_WAIT)."""
        used = []
        for name in PORTS:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", int(self.env[name])))
                except OSError:
                    used.append(f"{name}={self.env[name]}")
        return used
