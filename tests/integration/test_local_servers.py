"""Project-local PostgreSQL and Redis (anime_dashboard.local_servers, scripts/local-servers.sh): what `make run` and
`make test` start where no server runs. This machine runs both, so the tests force the local ones
(ANIME_DASHBOARD_LOCAL_SERVERS=always) or give the choice default addresses where nothing listens; every server
they start has its data in the test's own folder."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg2
import pytest
import redis

from anime_dashboard.local_servers import choose, port_is_free
from main_job import MainJob, main_job_env
from support import ROOT
from testkit.ports import free_port

SERVER_VARIABLES = ("AIRFLOW_CONN_WAREHOUSE", "ANIME_DASHBOARD_REDIS_URL", "ANIME_DASHBOARD_PG_BIN")


def processes_using(folder: Path) -> list[str]:
    """Processes whose command line names ``folder`` (a server left behind on its data)."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if any(str(folder) in part for part in (p.info["cmdline"] or [])):
            found.append(f"{p.info['pid']} {' '.join(p.info['cmdline'])[:160]}")
    return found


class LocalServers:
    """``anime-dashboard local-servers`` on the test's folders, as scripts/local-servers.sh starts it."""

    def __init__(self, tmp_path: Path, *configured: str, mode: str = "always"):
        self.folder, self.env_file = tmp_path, tmp_path / "servers.env"
        self.env_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
        env["ANIME_DASHBOARD_LOCAL_SERVERS"] = mode
        flags = [arg for name in configured for arg in ("--configured", name)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "anime_dashboard.cli", "local-servers", *flags, "--postgres-dir",
             str(tmp_path / "postgres"), "--redis-dir", str(tmp_path / "redis"), "--env-file", str(self.env_file)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def settings(self, timeout: float = 60) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while not self.env_file.exists():
            assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.proc.stdout.read()}"
            assert time.monotonic() < deadline, "the servers did not answer in time"
            time.sleep(0.1)
        lines = self.env_file.read_text().splitlines()
        return dict(re.fullmatch(r"export (\w+)=(\S+)", line).groups() for line in lines)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        tree = [psutil.Process(self.proc.pid)] + psutil.Process(self.proc.pid).children(recursive=True)
        self.proc.send_signal(signum)
        out, _ = self.proc.communicate(timeout=30)
        _, alive = psutil.wait_procs(tree, timeout=5)
        assert alive == [], f"left running: {alive}"
        return self.proc.returncode, out


@pytest.fixture
def forced(tmp_path):
    started = []

    def start(*configured, mode="always"):
        started.append(LocalServers(tmp_path, *configured, mode=mode))
        return started[-1]

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.stop()


def test_forced_servers_come_from_the_wheels_on_loopback_and_keep_their_data_and_port_across_runs(forced, tmp_path):
    first = forced()
    settings = first.settings()
    pg_port = int(re.fullmatch(r"postgresql://postgres@127\.0\.0\.1:(\d+)/anime_dashboard",
                               settings["AIRFLOW_CONN_WAREHOUSE"]).group(1))
    redis_port = int(re.fullmatch(r"redis://127\.0\.0\.1:(\d+)/0", settings["ANIME_DASHBOARD_REDIS_URL"]).group(1))
    assert Path(settings["ANIME_DASHBOARD_PG_BIN"], "pg_dump").is_file()  # the backups' pg_dump, of the same major
    listening = {f"{c.laddr.ip}:{c.laddr.port}" for p in psutil.Process(first.proc.pid).children(recursive=True)
                 for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
    assert listening == {f"127.0.0.1:{pg_port}", f"127.0.0.1:{redis_port}"}

    conn = psycopg2.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SHOW server_version_num")
        assert int(cur.fetchone()[0]) // 10000 == 18
        cur.execute("CREATE TABLE kept (note text)")
        cur.execute("INSERT INTO kept VALUES ('written by the first run')")
    conn.close()
    r = redis.Redis(port=redis_port)
    assert r.info("server")["redis_version"].startswith("6.2.")
    r.set("kept", "written by the first run")
    r.close()

    code, out = first.stop(signal.SIGTERM)
    assert code == 0, out
    assert port_is_free(pg_port) and port_is_free(redis_port)
    assert processes_using(tmp_path) == []
    assert "warehouse: project-local PostgreSQL 18." in out and f"on redis://127.0.0.1:{redis_port}/0" in out

    second = forced()
    assert second.settings() == settings  # the same addresses: a BI tool's saved connection still works
    conn = psycopg2.connect(host="127.0.0.1", port=pg_port, user="postgres", dbname="postgres")
    with conn.cursor() as cur:
        cur.execute("SELECT note FROM kept")
        assert cur.fetchall() == [("written by the first run",)]
    conn.close()
    r = redis.Redis(port=redis_port)
    assert r.get("kept") == b"written by the first run"  # saved on shutdown into the folder, loaded at start
    r.close()
    code, out = second.stop(signal.SIGINT)
    assert code == 0, out
    assert processes_using(tmp_path) == []


def test_a_cluster_left_half_made_by_a_crash_is_made_again_and_never_taken_for_the_data(forced, tmp_path):
    half = tmp_path / "postgres" / "data.initdb"
    half.mkdir(parents=True)
    (half / "PG_VERSION").write_text("18\n")  # what initdb killed part-way leaves
    servers = forced()
    port = int(servers.settings()["AIRFLOW_CONN_WAREHOUSE"].rsplit(":", 1)[1].split("/")[0])
    with psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres") as conn:
        assert conn.server_version // 10000 == 18
    conn.close()
    assert not half.exists() and (tmp_path / "postgres" / "data" / "PG_VERSION").is_file()


def test_auto_uses_a_default_that_answers_starts_one_where_nothing_does_and_never_replaces_a_set_one():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        answering = f"postgresql://postgres@127.0.0.1:{listener.getsockname()[1]}/anime_dashboard"
        silent = f"redis://127.0.0.1:{free_port()}/0"
        servers = {"warehouse": ("AIRFLOW_CONN_WAREHOUSE", answering), "redis": ("ANIME_DASHBOARD_REDIS_URL", silent)}
        assert choose("auto", set(), servers) == {"warehouse": "default", "redis": "local"}
        assert choose("always", set(), servers) == {"warehouse": "local", "redis": "local"}
        assert choose("never", set(), servers) == {"warehouse": "default", "redis": "default"}
        for mode in ("auto", "always", "never"):
            assert choose(mode, {"warehouse", "redis"}, servers) == {"warehouse": "set", "redis": "set"}


def test_servers_the_user_set_are_never_started_even_when_forced(forced, tmp_path):
    servers = forced("warehouse", "redis")
    assert servers.settings() == {}
    assert servers.proc.wait(30) == 0
    out = servers.proc.stdout.read()
    assert "warehouse: AIRFLOW_CONN_WAREHOUSE as set" in out and "redis: ANIME_DASHBOARD_REDIS_URL as set" in out
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "redis").exists()


def test_an_unknown_choice_is_refused_naming_the_choices(forced):
    servers = forced(mode="sometimes")
    assert servers.proc.wait(30) == 1
    assert "ANIME_DASHBOARD_LOCAL_SERVERS='sometimes': use one of auto, always, never" in servers.proc.stdout.read()


def test_make_test_runs_its_tests_against_project_local_servers_and_stops_them_after(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in SERVER_VARIABLES and not k.startswith(("TEST_PG", "ANIME_DASHBOARD_TEST_", "PYTEST_"))}
    env.update(ANIME_DASHBOARD_LOCAL_SERVERS="always", ANIME_DASHBOARD_TEST_WORKERS="0",
               ANIME_DASHBOARD_ENV_FILE=str(tmp_path / ".env"))
    out = subprocess.run(["bash", "scripts/test.sh", "-p", "no:cacheprovider",
                          "tests/integration/test_pipeline_steps.py::"
                          "test_setup_check_names_the_configured_servers_that_do_not_answer_and_says_what_to_do"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    said = out.stdout + out.stderr
    assert out.returncode == 0, said[-4000:]
    started = re.search(r"warehouse: project-local PostgreSQL (18\.\d+) on postgresql://postgres@127\.0\.0\.1:(\d+)/"
                        r"anime_dashboard, data in (\S+)/postgres", said)
    assert started, said[-4000:]
    version, port, folder = started.groups()
    redis_port = re.search(r"redis: project-local Redis 6\.2\.\d+ on redis://127\.0\.0\.1:(\d+)/0", said).group(1)
    # the tests' own header: the servers they talked to
    assert f"servers: PostgreSQL {version} at 127.0.0.1:{port}, Redis 6.2." in said
    assert f"at redis://127.0.0.1:{redis_port}/0" in said and "1 passed" in said
    assert not Path(folder).exists(), "the run's server folder is removed after it"
    assert processes_using(Path(folder)) == [] and port_is_free(int(port)) and port_is_free(int(redis_port))


def test_make_run_stops_in_seconds_naming_a_configured_warehouse_that_does_not_answer(tmp_path):
    closed = free_port()
    env = main_job_env(tmp_path, "unused", ANIME_DASHBOARD_POSTGRES_DIR=str(tmp_path / "postgres"),
                       ANIME_DASHBOARD_REDIS_DIR=str(tmp_path / "redis"))
    password = secrets.token_hex(8)
    env["AIRFLOW_CONN_WAREHOUSE"] = f"postgresql://postgres:{password}@127.0.0.1:{closed}/anime_dashboard"
    started = time.monotonic()
    out = subprocess.run(["bash", str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    seconds = time.monotonic() - started
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert seconds < 30, seconds
    assert (f"the warehouse does not answer at postgresql://postgres:***@127.0.0.1:{closed}/anime_dashboard"
            in out.stderr), out.stderr
    assert password not in out.stdout + out.stderr
    assert "warehouse: AIRFLOW_CONN_WAREHOUSE as set" in out.stdout
    assert not (tmp_path / "postgres").exists(), "no project-local warehouse instead of the one set"
    assert "Migrating Airflow" not in out.stdout  # it stopped at the check


@pytest.mark.scheduler
def test_make_run_with_forced_local_servers_serves_dashboards_and_analysts_and_keeps_history_across_runs(
        tmp_path, playwright_api):
    from testkit.browser import launch, login, render_dashboard

    env = main_job_env(tmp_path, "unused", ANIME_DASHBOARD_LOCAL_SERVERS="always",
                       ANIME_DASHBOARD_POSTGRES_DIR=str(tmp_path / "postgres"),
                       ANIME_DASHBOARD_REDIS_DIR=str(tmp_path / "redis"),
                       ANIME_DASHBOARD_SEED_HISTORY_DAYS="10")  # the 7-day movers need a week before today
    for name in SERVER_VARIABLES:
        env.pop(name, None)

    first = MainJob(env, tmp_path / "first.log")
    first.wait_for(r"^make run: ready$", 600)
    text = first.text()
    pg_port = int(re.search(r"^warehouse: project-local PostgreSQL 18\.\d+ on postgresql://postgres@127\.0\.0\.1:"
                            r"(\d+)/anime_dashboard", text, flags=re.M).group(1))
    redis_port = int(re.search(r"^redis: project-local Redis 6\.2\.\d+ on redis://127\.0\.0\.1:(\d+)/0", text,
                               flags=re.M).group(1))
    assert f"Warehouse for BI tools and psql: host 127.0.0.1, port {pg_port}, database anime_dashboard" in text
    secret = dict(re.findall(r"^([A-Z_]+)=(\S+)$", (tmp_path / ".env").read_text(), flags=re.M))

    # the analyst's psql connection as docs/analysts.md gives it, on the project-local server
    psql = subprocess.run(
        [shutil.which("psql"), f"host=127.0.0.1 port={pg_port} dbname=anime_dashboard "
                               f"user={env['ANIME_DASHBOARD_ANALYST_USER']}", "-Atc",
         "SELECT count(DISTINCT snapshot_type) FROM analytics.market_daily WHERE snapshot_date = current_date"],
        env={**env, "PGPASSWORD": secret["ANIME_DASHBOARD_ANALYST_PASSWORD"]}, capture_output=True, text=True,
        timeout=60)
    assert psql.returncode == 0 and psql.stdout.strip() == "4", psql.stdout + psql.stderr

    # every dashboard renders every chart for the analyst, from the project-local warehouse
    browser = launch(playwright_api)
    try:
        page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
        base = f"http://127.0.0.1:{env['ANIME_DASHBOARD_SUPERSET_PORT']}"
        login(page, base, "analyst", secret["ANIME_DASHBOARD_SUPERSET_ANALYST_PASSWORD"])
        for slug in ("anime-market", "trends-and-movers", "pipeline-health"):
            result = render_dashboard(page, base, slug)
            assert result["errors"] == [] and result["rendered"] == result["charts"] > 0, (slug, result)
    finally:
        browser.close()

    first_batches = query_local(pg_port, "SELECT batch_id, snapshot_type, snapshot_date FROM raw.extract_batches")
    assert {row[1] for row in first_batches} == {"top", "airing", "upcoming", "movies"}
    seconds, left = first.stop_with(signal.SIGTERM)
    assert left == [], f"left running {seconds:.1f} s after SIGTERM twice: {left}"
    assert first.ports_in_use() == [] and port_is_free(pg_port) and port_is_free(redis_port)
    assert processes_using(tmp_path / "postgres") == [] and processes_using(tmp_path / "redis") == []

    # the next run finds the same data on the same address
    second = MainJob(env, tmp_path / "second.log")
    second.wait_for(r"^make run: ready$", 600)
    assert f"on postgresql://postgres@127.0.0.1:{pg_port}/anime_dashboard" in second.text()
    kept = query_local(pg_port, "SELECT batch_id, snapshot_type, snapshot_date FROM raw.extract_batches")
    assert set(first_batches) <= set(kept), "the first run's extracts are still in the warehouse"
    seconds, left = second.stop_with(signal.SIGINT)
    assert left == [], f"left running {seconds:.1f} s after Ctrl-C twice: {left}"
    assert port_is_free(pg_port) and port_is_free(redis_port)
    assert processes_using(tmp_path / "postgres") == []


def query_local(port: int, sql: str) -> list[tuple]:
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="anime_dashboard")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()
