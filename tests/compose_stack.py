"""docker-compose.yaml brought up for real in the local Docker engine, as a test's throwaway stack.

`make compose-build` first (the engine started when it is not running, the base images pulled or stood in, the
wheelhouse, both images), then one compose project of this run's own (``ad_test_<token>``): a generated env file
(every secret of .env.example, as `make compose-env` makes them), the offline profile (the Jikan replay), and
free ports on 127.0.0.1 for Postgres, the Airflow UI and Superset. ``cleanup`` takes everything down with its
volumes whatever happened, and stops dockerd when this stack started it.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from compose_file import COMPOSE_FILE, compose_command, load
from support import ROOT, RUN_TOKEN, free_port

ONE_SHOT = ("airflow-init", "superset-init", "superset-import")


class ComposeStackError(AssertionError):
    pass


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise ComposeStackError(f"docker {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def engine_running() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=60, check=False).returncode == 0


class ComposeStack:
    def __init__(self) -> None:
        self.project = f"ad_test_{RUN_TOKEN}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{self.project}_"))
        self.started_dockerd = False
        self.ports = {"POSTGRES_PORT": free_port(), "AIRFLOW_PORT": free_port(), "SUPERSET_PORT": free_port()}
        self.env = {name: secrets.token_hex(24) for name in re.findall(
            r"^([A-Z][A-Z0-9_]+)=$", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M)}
        self.env["AIRFLOW_FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.env.update({"JIKAN_HOST": "jikan-replay", "JIKAN_PORT": "8765", "JIKAN_SCHEME": "http",
                         **{k: str(v) for k, v in self.ports.items()}})
        self.env_file = self.tmp / ".env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()), encoding="utf-8")
        self.env_file.chmod(0o600)
        self.config = load(self.env)  # `docker-compose config`: what the stack will run
        self.timings: dict[str, float] = {}

    # -- the engine and the images -------------------------------------------------------------------------
    def build(self) -> str:
        """`make compose-build` (engine, base images, wheelhouse, both images); its output."""
        self.started_dockerd = not engine_running()
        t0 = time.monotonic()
        proc = subprocess.run(["make", "-s", "compose-build"], cwd=ROOT, capture_output=True, text=True,
                              timeout=3600, check=False)
        self.timings["build_s"] = time.monotonic() - t0
        if proc.returncode != 0:
            raise ComposeStackError(f"make compose-build exited {proc.returncode}:\n{proc.stdout[-3000:]}\n"
                                    f"{proc.stderr[-3000:]}")
        return proc.stdout + proc.stderr

    # -- compose -------------------------------------------------------------------------------------------
    def compose(self, *args: str, timeout: float = 600, check: bool = True,
                extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        argv = compose_command() + ["-p", self.project, "--env-file", str(self.env_file), "-f", str(COMPOSE_FILE),
                                    "--profile", "offline", *args]
        env = {"PATH": os.environ["PATH"], "HOME": str(self.tmp), **(extra_env or {})}
        proc = subprocess.run(argv, env=env, cwd=self.tmp, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if check and proc.returncode != 0:
            raise ComposeStackError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n"
                                    f"{proc.stderr[-3000:]}")
        return proc

    def up(self, timeout: float = 900) -> float:
        """`up -d`, then until every long-running service is healthy and the one-shots exited 0: seconds."""
        t0 = time.monotonic()
        proc = self.compose("up", "-d", timeout=timeout, check=False)
        if proc.returncode != 0:  # compose stops at a dependency that exited non-zero: say which, and why
            failed = [s for s, st in self.states().items() if st.startswith("exited") and st != "exited 0"]
            raise ComposeStackError(f"up -d exited {proc.returncode}: {proc.stderr[-2000:]}\n"
                                    + "\n".join(self.logs(s) for s in failed))
        self.wait_ready(t0 + timeout)
        return time.monotonic() - t0

    def containers(self, *, all_states: bool = True) -> dict[str, dict]:
        """{service: `docker inspect` of its container} for this project."""
        ids = docker("ps", "-q", *(["-a"] if all_states else []), "--filter",
                     f"label=com.docker.compose.project={self.project}").stdout.split()
        if not ids:
            return {}
        found = json.loads(docker("inspect", *ids).stdout)
        return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in found}

    def states(self) -> dict[str, str]:
        """{service: 'healthy' | 'starting' | 'exited 0' | ...} of every container of the project."""
        out = {}
        for name, c in self.containers().items():
            state = c["State"]
            if state["Status"] == "exited":
                out[name] = f"exited {state['ExitCode']}"
            elif state.get("Health"):
                out[name] = state["Health"]["Status"]
            else:
                out[name] = state["Status"]
        return out

    def wait_ready(self, deadline: float) -> dict[str, str]:
        services = set(self.config["services"])
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.states()
            failed = {s: st for s, st in states.items()
                      if (st.startswith("exited") and st != "exited 0") or st == "unhealthy"
                      or (st.startswith("exited") and s not in ONE_SHOT)}
            if failed:
                raise ComposeStackError(f"failed: {failed}\n" + "\n".join(self.logs(s) for s in failed))
            if set(states) == services and all(
                    st == ("exited 0" if s in ONE_SHOT else "healthy") for s, st in states.items()):
                return states
            time.sleep(2)
        waiting = {s: st for s, st in states.items() if st not in ("healthy", "exited 0")}
        missing = services - set(states)
        raise ComposeStackError(f"not ready in time: waiting {waiting}, never created {sorted(missing)}\n"
                                + "\n".join(self.logs(s) for s in waiting))

    def logs(self, service: str, tail: int = 60) -> str:
        proc = self.compose("logs", "--no-color", "--tail", str(tail), service, check=False, timeout=60)
        return f"--- {service} ---\n{proc.stdout[-6000:]}{proc.stderr[-2000:]}"

    def leftovers(self) -> dict[str, list[str]]:
        """The project's containers, volumes and networks still present."""
        label = f"label=com.docker.compose.project={self.project}"
        return {"containers": docker("ps", "-aq", "--filter", label).stdout.split(),
                "volumes": docker("volume", "ls", "-q", "--filter", label).stdout.split(),
                "networks": docker("network", "ls", "-q", "--filter", label).stdout.split()}

    def cleanup(self) -> None:
        if os.environ.get("ANIME_DASHBOARD_COMPOSE_KEEP") == "1":  # debugging: look at it, then `down -v` it
            print(f"\nkept: compose -p {self.project} --env-file {self.env_file} -f {COMPOSE_FILE}")
            return
        try:
            if engine_running():
                self.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False, timeout=300)
        finally:
            if self.started_dockerd:
                stop_dockerd()
            shutil.rmtree(self.tmp, ignore_errors=True)


def stop_dockerd(timeout: float = 60) -> None:
    """Stop the dockerd this test started (and the containerd it runs)."""
    pid_file = Path("/var/run/docker.pid")
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
