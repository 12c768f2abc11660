"""Reruns and crashes: real DAG runs against the offline replay and a real Postgres warehouse.

* the same logical date run three times (``dag.test()``): identical warehouse;
* ``airflow tasks clear`` of validate alone, then of upsert alone, rerun with ``airflow tasks test`` on the
  same run (real CLI processes, a private copy of the session's SQLite metadata DB): identical warehouse,
  Jikan not called again;
* the upsert's task process SIGKILLed inside its transaction (held there by the titles advisory lock that
  ``core.upkeep_titles`` takes after the snapshot rows are written): nothing partial, the retry completes it;
* ``airflow backfill create`` over past dates, run by a real scheduler: every run skips, nothing written;
* the warehouse restarting (a server answering "the database system is starting up") when extract connects,
  and the upsert's backend terminated mid-transaction (what a restart does to open sessions): the try fails
  with the server's error, Airflow's retry (retry delay shortened to 1 s) succeeds, nothing lost.

Every test asserts the warehouse afterwards. The matrix and its results are in docs/reliability.md
("Reruns and crashes").
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import pytest

from support import PG, local_airflow_env, query_db, stop_process_groups
from testkit.ports import free_port
from testkit.replay_faults import Fault
from testkit.warehouse import create_database, drop_database, pg_uri

BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
DAG_ID = "jikan_airing"  # 2 pages of the replay: reruns stay cheap, page-level faults still apply
SNAPSHOT = "airing"
TITLES_LOCK_KEY = "hashtextextended('anime_dashboard.titles', 0)"  # taken by core.upkeep_titles

# What the warehouse holds, table by table: every column except load timestamps (loaded_at, updated_at,
# rejected_at, reject_id), and the lineage columns (batch_id, run_id) only when asked: a new run of the same
# date writes the same data under a new batch and run, a rerun of a task of the same run keeps both.
TABLES = {
    "core.anime_snapshots": (
        "snapshot_type, snapshot_date, mal_id, list_position, title, title_english, title_japanese, type, "
        "source, episodes, status, airing, aired_from, aired_to, duration, rating, score, scored_by, rank, "
        "popularity, members, favorites, season, year, genres, themes, demographics, studios, payload, synthetic",
        "batch_id, run_id", "snapshot_type, snapshot_date, mal_id"),
    "core.titles": (
        "mal_id, title, title_english, title_japanese, type, source, episodes, status, airing, aired_from, "
        "aired_to, duration, rating, score, scored_by, rank, popularity, members, favorites, season, year, "
        "snapshot_types, first_seen, last_seen, snapshots, synthetic", "", "mal_id"),
    "core.title_tags": ("mal_id, tag_kind, tag_name", "", "mal_id, tag_kind, tag_name"),
    "core.snapshots": ("snapshot_type, snapshot_date, titles, synthetic", "batch_id, run_id",
                       "snapshot_type, snapshot_date"),
    "core.rejects": ("dag_id, snapshot_type, snapshot_date, page, mal_id, payload, errors", "batch_id, run_id",
                     "batch_id, page, mal_id"),
}


def fetch(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.rollback()  # never leave the test's connection idle in a transaction (it would hold snapshots)
    return rows


def warehouse_state(conn, lineage: bool = False, all_rejects: bool = True) -> dict[str, list[tuple]]:
    """Whole-table dumps of the tables a load writes (see TABLES). Rejects are kept per extract batch (like
    the raw pages): ``all_rejects=False`` dumps those of the batches behind the stored snapshots only."""
    state = {}
    for table, (columns, lineage_columns, order) in TABLES.items():
        cols = f"{columns}, {lineage_columns}" if lineage and lineage_columns else columns
        where = ("" if all_rejects or table != "core.rejects"
                 else " WHERE batch_id IN (SELECT batch_id FROM core.snapshots)")
        state[table] = fetch(conn, f"SELECT {cols} FROM {table}{where} ORDER BY {order}")
    return state


def run_metrics(conn, run_id: str | None = None) -> list[tuple]:
    where, params = ("WHERE run_id = %s", (run_id,)) if run_id else ("", None)
    return fetch(conn, "SELECT dag_id, run_id, snapshot_type, snapshot_date, batch_id, pages, received, "
                       "distinct_records, duplicates, rejected, inserted, updated, removed, outcome, failed_task, "
                       f"error FROM core.run_metrics {where} ORDER BY finished_at", params)


def staged(conn, batch_id: int) -> list[tuple]:
    """(mal_id, list_position, members, whole staged row) of a batch, whatever columns staging has (the typed
    values as columns or as one JSON record)."""
    rows = fetch(conn, "SELECT to_jsonb(st) FROM core.staged_records st WHERE batch_id = %s "
                       "ORDER BY list_position", (batch_id,))
    return [(r["mal_id"], r["list_position"], r["members"] if "members" in r else r["record"]["members"], r)
            for (r,) in rows]


def batches(conn) -> list[tuple]:
    return fetch(conn, "SELECT batch_id, run_id FROM raw.extract_batches ORDER BY batch_id")


def anime_requests(replay) -> list[dict]:
    return [e for e in replay.log if e["path"] == "/v4/anime"]


def titles_match_a_full_recompute(conn) -> bool:
    """core.titles / core.title_tags equal what core.refresh_titles computes from every stored row (the
    incremental upkeep's invariant), checked in a transaction that is rolled back."""
    before = warehouse_state(conn)
    with conn.cursor() as cur:
        cur.execute("SELECT core.refresh_titles(array_agg(DISTINCT mal_id)) FROM core.anime_snapshots")
        after = {t: warehouse_state_in_txn(cur, t) for t in ("core.titles", "core.title_tags")}
    conn.rollback()
    return all(after[t] == before[t] for t in after)


def warehouse_state_in_txn(cur, table: str) -> list[tuple]:
    columns, _, order = TABLES[table]
    cur.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")
    return cur.fetchall()


def today_midnight() -> datetime:
    return datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def break_one_record(envelope):
    """A schema drift on page 1 (a reject with its errors), so rejects are part of every comparison."""
    envelope = copy.deepcopy(envelope)
    envelope["data"][2]["members"] = "lots"
    return envelope


def change_the_list(envelope):
    """A different list than the one stored: members moved on every title of page 1."""
    envelope = copy.deepcopy(envelope)
    for item in envelope["data"]:
        item["members"] = (item.get("members") or 0) + 1000
    return envelope


def drop_three_titles(envelope):
    """Page 2 without its last three titles: the next upsert removes their rows (and refreshes them)."""
    envelope = copy.deepcopy(envelope)
    envelope["data"] = envelope["data"][:-3]
    return envelope


class TitlesLock:
    """Holds the advisory lock core.upkeep_titles takes, so an upsert stops inside its transaction right after
    writing the snapshot rows, the removals and the catalog row (load_snapshot's first three statements)."""

    def __init__(self, dbname: str):
        self.conn = psycopg2.connect(dbname=dbname, **PG)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT pg_advisory_lock({TITLES_LOCK_KEY})")

    def wait_for_blocked_upsert(self, timeout: float = 120, alive=lambda: True) -> tuple[int, bool]:
        """(pid, has written) of the upsert backend once it waits for the lock inside core.upkeep_titles."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.conn.cursor() as cur:
                cur.execute("SELECT pid, backend_xid IS NOT NULL FROM pg_stat_activity "
                            "WHERE datname = current_database() AND application_name = 'anime_dashboard' "
                            "AND wait_event_type = 'Lock' AND query LIKE '%%upkeep_titles%%'")
                rows = cur.fetchall()
            if rows:
                return rows[0]
            assert alive(), "the upsert ended before it reached core.upkeep_titles"
            time.sleep(0.2)
        pytest.fail("the upsert never blocked on the titles lock")

    def backend_gone(self, pid: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
                if not cur.fetchall():
                    return
            time.sleep(0.1)
        pytest.fail(f"backend {pid} still there after {timeout} s")

    def terminate(self, pid: int) -> None:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert cur.fetchone() == (True,)

    def release(self) -> None:
        if not self.conn.closed:
            with self.conn.cursor() as cur:
                cur.execute(f"SELECT pg_advisory_unlock({TITLES_LOCK_KEY})")
            self.conn.close()


# -- the Airflow CLI on a private copy of the session's metadata DB -------------------------------------------
class AirflowCli:
    """Real ``airflow`` processes with the test's environment (warehouse, replay) and an Airflow home of their
    own: a copy of the session's migrated SQLite DB, so clearing tasks touches only this test's runs."""

    def __init__(self, home: Path):
        self.home = home

    def env(self, **extra: str) -> dict[str, str]:
        env = os.environ.copy()  # read at call time: AIRFLOW_CONN_JIKAN_DEFAULT etc. come from the fixtures
        env.update({"AIRFLOW_HOME": str(self.home),
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home}/airflow.db",
                    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs")})
        env.update(extra)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 300, **extra: str):
        proc = subprocess.run([AIRFLOW, *args], env=self.env(**extra), capture_output=True, text=True,
                              timeout=timeout, cwd=self.home)
        if check:
            assert proc.returncode == 0, (f"airflow {' '.join(args)} exited {proc.returncode}:\n"
                                          f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        return proc

    def popen(self, *args: str, **extra: str) -> subprocess.Popen:
        log = open(self.home / f"{args[0]}-{args[1]}-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
        return subprocess.Popen([AIRFLOW, *args], env=self.env(**extra), stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.home, start_new_session=True)

    def meta(self, sql: str, params=()) -> list[tuple]:
        """Read the metadata DB directly (an `airflow` CLI call costs seconds of start-up)."""
        conn = sqlite3.connect(self.home / "airflow.db", timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def latest_run_id(self, dag_id: str) -> str:
        return self.meta("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY run_after DESC LIMIT 1",
                         (dag_id,))[0][0]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, tuple[str | None, int]]:
        """task_id -> (state, try_number) of the run's task instances."""
        return {t: (s, n) for t, s, n in self.meta(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id))}


@pytest.fixture
def airflow_cli(tmp_path, airflow_db):
    home = tmp_path / "airflow"
    home.mkdir()
    src = sqlite3.connect(airflow_db.removeprefix("sqlite:///"))
    dst = sqlite3.connect(home / "airflow.db")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return AirflowCli(home)


# -- 1. the same logical date three times ---------------------------------------------------------------------
def test_the_same_logical_date_run_three_times_leaves_an_identical_warehouse(dags, warehouse, replay):
    dag = dags[DAG_ID]
    day = today_midnight()
    replay.script(*[Fault(kind="mutate", mutate=break_one_record, match_page=1) for _ in range(3)])
    states, runs = [], []
    for _ in range(3):
        dag_run = dag.test(logical_date=day)
        assert dag_run.state == "success"
        runs.append(dag_run.run_id)
        states.append(warehouse_state(warehouse, all_rejects=False))
    assert states[0] == states[1] == states[2]
    assert len(states[0]["core.rejects"]) == 1

    snapshot = states[0]["core.anime_snapshots"]
    served = {m for e in anime_requests(replay) if e["status"] == 200 for m in e["mal_ids"]}
    bad = anime_requests(replay)[0]["mal_ids"][2]
    assert {r[2] for r in snapshot} == served - {bad} and len(snapshot) == len(served) - 1
    assert {r[1] for r in snapshot} == {day.date()}
    assert sorted(r[3] for r in snapshot) == list(range(1, len(snapshot) + 1))
    assert states[0]["core.snapshots"] == [(SNAPSHOT, day.date(), len(snapshot), False)]
    assert titles_match_a_full_recompute(warehouse)
    # each run is its own extract: Jikan is called each time and each batch keeps its own raw pages and its
    # own rejects (the same reject, with the same errors, once per batch); the stored snapshot is the newest
    # batch's and its catalog row names it
    assert len(batches(warehouse)) == 3 and len(anime_requests(replay)) == 3 * 2
    rejects = fetch(warehouse, "SELECT batch_id, mal_id, errors FROM core.rejects ORDER BY batch_id")
    assert [r[1] for r in rejects] == [bad] * 3 and len({json.dumps(r[2]) for r in rejects}) == 1
    assert rejects[0][2][0]["loc"] == "members"
    newest = batches(warehouse)[-1]
    assert fetch(warehouse, "SELECT DISTINCT batch_id, run_id FROM core.anime_snapshots") == [newest]
    # run metrics: one row per run (the key is dag_id + run_id; each dag.test() is a new run of the date)
    metrics = run_metrics(warehouse)
    assert [m[1] for m in metrics] == runs
    n = len(snapshot)
    assert [(m[9], m[10], m[11], m[12], m[13]) for m in metrics] == [
        (1, n, 0, 0, "success"), (1, 0, n, 0, "success"), (1, 0, n, 0, "success")]
    assert {(m[3], m[5], m[6], m[7]) for m in metrics} == {(day.date(), 2, n + 1, n)}


# -- 2. clearing validate alone, then upsert alone ------------------------------------------------------------
@pytest.mark.parametrize("task_id", ["validate", "upsert"])
def test_clearing_one_task_and_rerunning_it_changes_nothing_and_never_calls_jikan(
        warehouse, replay, airflow_cli, task_id):
    day = today_midnight().isoformat()
    replay.script(Fault(kind="mutate", mutate=break_one_record, match_page=1))
    airflow_cli.run("dags", "test", DAG_ID, day)
    run_id = airflow_cli.latest_run_id(DAG_ID)
    before = warehouse_state(warehouse, lineage=True)
    ((batch_id, _),) = batches(warehouse)
    staged_before = staged(warehouse, batch_id)
    metrics_before = run_metrics(warehouse, run_id)
    requests_before = len(replay.log)
    assert requests_before == 2 and len(before["core.anime_snapshots"]) > 0 and len(before["core.rejects"]) == 1

    # Airflow 3.3's `tasks clear -t` matches task ids by substring (not the regex its help names: "^validate$"
    # clears nothing); "validate" and "upsert" each name one task of the DAG
    assert {s for s, _ in airflow_cli.task_states(DAG_ID, run_id).values()} == {"success"}
    cleared = airflow_cli.run("tasks", "clear", DAG_ID, "-t", task_id, "-y")
    states = airflow_cli.task_states(DAG_ID, run_id)
    assert states.pop(task_id) == (None, 1), cleared.stdout[-2000:]  # cleared: no state
    assert {s for s, _ in states.values()} == {"success"}  # only that task was cleared
    rerun = airflow_cli.run("tasks", "test", DAG_ID, task_id, run_id)
    assert airflow_cli.task_states(DAG_ID, run_id)[task_id][0] == "success", rerun.stdout[-3000:]

    assert len(replay.log) == requests_before, "the rerun called Jikan"
    assert batches(warehouse) == [(batch_id, run_id)], "the rerun landed another batch"
    assert warehouse_state(warehouse, lineage=True) == before  # same rows, same batch and run behind them
    assert staged(warehouse, batch_id) == staged_before
    metrics_after = run_metrics(warehouse, run_id)
    assert len(metrics_after) == 1 and metrics_after[0][:10] == metrics_before[0][:10]
    n = len(before["core.anime_snapshots"])
    if task_id == "upsert":  # the run's one metrics row is rewritten by the rerun: every row an update now
        assert metrics_before[0][10:14] == (n, 0, 0, "success") and metrics_after[0][10:14] == (0, n, 0, "success")
    else:
        assert metrics_after == metrics_before
    assert titles_match_a_full_recompute(warehouse)


# -- 3. SIGKILL inside the upsert transaction -----------------------------------------------------------------
def test_a_task_process_killed_inside_the_upsert_transaction_leaves_nothing_partial_and_the_retry_completes_it(
        warehouse, warehouse_db, replay, airflow_cli):
    day = today_midnight().isoformat()
    airflow_cli.run("dags", "test", DAG_ID, day)  # the stored snapshot of the day
    first_run = airflow_cli.latest_run_id(DAG_ID)
    before = warehouse_state(warehouse, lineage=True)
    metrics_before = run_metrics(warehouse)
    assert len(before["core.anime_snapshots"]) == 36 and [m[1] for m in metrics_before] == [first_run]

    # a second run of the day brings another list (members changed on page 1, three titles gone from page 2);
    # extract and validate run, the tasks after them are marked success without running
    replay.script(Fault(kind="mutate", mutate=change_the_list, match_page=1),
                  Fault(kind="mutate", mutate=drop_three_titles, match_page=2))
    airflow_cli.run("dags", "test", DAG_ID, day, "--mark-success-pattern",
                    "upsert|check_snapshot_table|check_snapshot_columns|publish")
    run_id = airflow_cli.latest_run_id(DAG_ID)
    assert run_id != first_run
    batch_id = batches(warehouse)[-1][0]
    new_list = staged(warehouse, batch_id)
    assert len(new_list) == 33 and warehouse_state(warehouse, lineage=True) == before

    lock = TitlesLock(warehouse_db)
    try:
        task = airflow_cli.popen("tasks", "test", DAG_ID, "upsert", run_id)
        pid, has_written = lock.wait_for_blocked_upsert(alive=lambda: task.poll() is None)
        os.killpg(task.pid, signal.SIGKILL)
        assert task.wait(30) == -signal.SIGKILL
        assert warehouse_state(warehouse, lineage=True) == before  # nothing visible while it hangs
    finally:
        lock.release()  # the orphaned backend finishes its statement, finds its client gone and rolls back
    lock_conn = TitlesLock(warehouse_db)
    try:
        lock_conn.backend_gone(pid)
    finally:
        lock_conn.release()
    # nothing of the killed transaction: the old snapshot, titles, tags, catalog, metrics, all as they were
    assert warehouse_state(warehouse, lineage=True) == before
    assert run_metrics(warehouse) == metrics_before
    assert fetch(warehouse, "SELECT count(*) FROM core.anime_snapshots WHERE run_id = %s", (run_id,)) == [(0,)]
    # (and the kill did hit the transaction after its first writes: it had an xid when it blocked)
    assert has_written, "the upsert had not written anything yet when it blocked"

    # the retry (the same task of the same run again) completes the load from the staged batch
    requests = len(replay.log)
    airflow_cli.run("tasks", "test", DAG_ID, "upsert", run_id)
    assert len(replay.log) == requests
    rows = fetch(warehouse, "SELECT mal_id, list_position, members, batch_id, run_id FROM core.anime_snapshots "
                            "ORDER BY list_position")
    assert [(r[0], r[1], r[2]) for r in rows] == [(s[0], s[1], s[2]) for s in new_list]
    assert {(r[3], r[4]) for r in rows} == {(batch_id, run_id)}
    after = warehouse_state(warehouse)
    assert after["core.snapshots"] == [(SNAPSHOT, today_midnight().date(), 33, False)]
    assert titles_match_a_full_recompute(warehouse)
    (metrics,) = run_metrics(warehouse, run_id)
    assert metrics[10:14] == (0, 33, 3, "success")


# -- 5. the warehouse unreachable: restarting at connect, a backend terminated mid-upsert ------------------
class StartingUpPostgres:
    """A TCP server speaking just enough of the PostgreSQL protocol to refuse every connection the way a
    server that is (re)starting does: FATAL 57P03 "the database system is starting up". It counts the
    connections and, on the first, calls ``on_connect`` (the test points the warehouse back at the real one)."""

    def __init__(self, on_connect):
        self.on_connect = on_connect
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _read_packet(conn) -> bytes:
        head = b""
        while len(head) < 4:
            chunk = conn.recv(4 - len(head))
            if not chunk:
                raise ConnectionError
            head += chunk
        (length,) = struct.unpack("!I", head)
        body = b""
        while len(body) < length - 4:
            chunk = conn.recv(length - 4 - len(body))
            if not chunk:
                raise ConnectionError
            body += chunk
        return body

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                try:
                    while True:
                        body = self._read_packet(conn)
                        if struct.unpack("!I", body[:4])[0] in (80877103, 80877104):  # SSL / GSSENC request
                            conn.sendall(b"N")
                            continue
                        fields = b"".join(k + v.encode() + b"\0" for k, v in (
                            (b"S", "FATAL"), (b"V", "FATAL"), (b"C", "57P03"),
                            (b"M", "the database system is starting up"))) + b"\0"
                        conn.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)
                        break
                except (ConnectionError, OSError):
                    pass
            if self.connections == 1:
                self.on_connect()

    def close(self) -> None:
        self.sock.close()


def retry_delay_of_one_second(monkeypatch, task) -> list[BaseException]:
    """The task keeps its retries (3) but waits 1 s instead of 30-60 s before the next try; the errors of the
    failed tries, as Airflow passes them to on_retry_callback, are collected in the returned list."""
    errors: list[BaseException] = []
    monkeypatch.setattr(task, "retry_delay", timedelta(seconds=1))
    monkeypatch.setattr(task, "on_retry_callback", [lambda context: errors.append(context["exception"])])
    return errors


def test_a_warehouse_that_is_starting_up_fails_the_try_clearly_and_the_retry_loses_nothing(
        dags, warehouse, warehouse_db, replay, monkeypatch):
    dag = dags[DAG_ID]
    retried = retry_delay_of_one_second(monkeypatch, dag.get_task("extract"))
    real = os.environ["AIRFLOW_CONN_WAREHOUSE"]
    server = StartingUpPostgres(on_connect=lambda: os.environ.__setitem__("AIRFLOW_CONN_WAREHOUSE", real))
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", pg_uri(warehouse_db).replace(f":{PG['port']}/", f":{server.port}/"))
    try:
        dag_run = dag.test(logical_date=today_midnight())
    finally:
        server.close()
    assert server.connections == 1
    (error,) = retried  # the failed try's error, as Airflow hands it to the task's retry callback
    assert type(error).__name__ == "OperationalError" and "the database system is starting up" in str(error)
    assert dag_run.state == "success"
    tis = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    assert tis["extract"].try_number == 2 and {ti.state for ti in tis.values()} == {"success"}
    # the failed try never reached Jikan (it connects to the warehouse first); the retry fetched both pages once
    assert len(anime_requests(replay)) == 2
    served = {m for e in anime_requests(replay) for m in e["mal_ids"]}
    state = warehouse_state(warehouse)
    assert {r[2] for r in state["core.anime_snapshots"]} == served and len(served) == 36
    assert len(batches(warehouse)) == 1
    (metrics,) = run_metrics(warehouse)
    assert metrics[1] == dag_run.run_id and metrics[10:14] == (36, 0, 0, "success")
    assert titles_match_a_full_recompute(warehouse)


def test_the_upsert_backend_terminated_mid_transaction_fails_the_try_and_the_retry_loses_nothing(
        dags, warehouse, warehouse_db, replay, monkeypatch):
    dag = dags[DAG_ID]
    day = today_midnight()
    assert dag.test(logical_date=day).state == "success"
    before = warehouse_state(warehouse, lineage=True)
    metrics_before = run_metrics(warehouse)
    retried = retry_delay_of_one_second(monkeypatch, dag.get_task("upsert"))
    replay.script(Fault(kind="mutate", mutate=change_the_list, match_page=1),
                  Fault(kind="mutate", mutate=drop_three_titles, match_page=2))

    seen: dict = {}

    lock = TitlesLock(warehouse_db)  # held before the run starts: its upsert stops inside its transaction
    warehouse_conn = psycopg2.connect(dbname=warehouse_db, **PG)

    def restart_while_blocked():
        try:
            pid, seen["has_written"] = lock.wait_for_blocked_upsert()
            lock.terminate(pid)  # what a restart (or an admin) does to every open session
            lock.backend_gone(pid)
            seen["between_tries"] = warehouse_state(warehouse_conn, lineage=True)
            seen["metrics_between"] = run_metrics(warehouse_conn)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            seen["error"] = exc
        finally:
            lock.release()  # the retry (1 s later) goes through

    watcher = threading.Thread(target=restart_while_blocked, daemon=True)
    watcher.start()
    try:
        dag_run = dag.test(logical_date=day)
        watcher.join(60)
    finally:
        warehouse_conn.close()
        if watcher.is_alive():
            pytest.fail("the watcher never saw the upsert block on the titles lock")
    assert "error" not in seen, seen.get("error")
    # between the tries: the stored snapshot as it was, no metrics of the half-done load
    assert seen["between_tries"] == before and seen["metrics_between"] == metrics_before
    assert seen["has_written"], "the upsert was terminated before it had written anything"
    assert dag_run.state == "success"
    tis = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    assert tis["upsert"].try_number == 2 and tis["extract"].try_number == 1
    assert len(anime_requests(replay)) == 4  # two runs, two pages each: the retry did not call Jikan
    batch_id = batches(warehouse)[-1][0]
    rows = fetch(warehouse, "SELECT mal_id, list_position, members FROM core.anime_snapshots ORDER BY list_position")
    assert rows == [(s[0], s[1], s[2]) for s in staged(warehouse, batch_id)] and len(rows) == 33
    assert titles_match_a_full_recompute(warehouse)
    metrics = run_metrics(warehouse)
    assert [m[1] for m in metrics] == [metrics_before[0][1], dag_run.run_id]
    assert metrics[1][10:14] == (0, 33, 3, "success")
    # the failed try's error, as Airflow hands it to the task's retry callback (and, after the last retry, to
    # record_task_failure, which stores it in core.run_metrics.error): the server's own message. The server's
    # error is raised first; the check below is the one a person reading the task log or pipeline_runs sees.
    (error,) = retried
    server_said = ("terminating connection due to administrator command", "server closed the connection")
    chain = [e for e in (error, error.__context__) if e is not None]
    assert any(any(m in str(e) for m in server_said) for e in chain), repr(chain)
    assert type(error).__name__ == "OperationalError" and any(m in str(error) for m in server_said), \
        f"the try failed with {type(error).__name__}: {error} (the server's error is only its __context__: " \
        f"{error.__context__!r})"


# -- 4. airflow backfill create, run by a real scheduler ------------------------------------------------------
@pytest.fixture
def scheduler_cluster(tmp_path, warehouse_db, replay):
    """api-server + scheduler (LocalExecutor) as real processes on a private Postgres metadata DB, the DAGs
    serialized by `airflow dags reserialize` (no dag-processor needed), the jikan_api pool created, the DAG
    unpaused with the scheduler's own schedule off (USE_JOB_SCHEDULE=False: only backfill runs start)."""
    meta_db = create_database("ad_test_af")
    port = free_port()
    env = local_airflow_env(tmp_path, meta_db, port)
    env.update({
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__WORKERS": "1",
        # the DAG is unpaused (a paused DAG's backfill runs stay queued); no scheduled run of today may start
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
    })
    logs = tmp_path / "proc"
    logs.mkdir()

    def run(*args, timeout=300):
        out = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, f"airflow {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
        return out.stdout

    def meta(sql, params=None):
        return query_db(meta_db, sql, params)

    procs = {}
    try:
        run("db", "migrate")
        run("pools", "set", "jikan_api", "1", "Jikan: one call at a time")
        run("dags", "reserialize")
        run("dags", "unpause", DAG_ID)
        for name in ("api-server", "scheduler"):
            log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed below
            procs[name] = (subprocess.Popen([AIRFLOW, name], env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True), log)
        yield {"run": run, "meta": meta, "procs": procs, "logs": logs, "task_logs": tmp_path / "logs"}
    finally:
        stop_process_groups(procs)
        drop_database(meta_db)
        shutil.rmtree(tmp_path / "airflow", ignore_errors=True)


def process_logs(cluster) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(cluster["logs"].iterdir()))


@pytest.mark.scheduler
def test_a_backfill_over_past_dates_skips_every_run_and_leaves_the_stored_snapshots_untouched(
        warehouse, replay, scheduler_cluster):
    from pipeline_runs import TODAY, load

    cluster = scheduler_cluster
    dates = [TODAY - timedelta(days=d) for d in (4, 3, 2)]  # all older than yesterday
    # a stored snapshot for one of those dates (today's list, filed under it as if taken then)
    load(warehouse, SNAPSHOT, "seed", dag_id=DAG_ID)
    with warehouse, warehouse.cursor() as cur:
        cur.execute("UPDATE core.anime_snapshots SET snapshot_date = %s", (dates[1],))
        cur.execute("DELETE FROM core.snapshots")
        cur.execute("SELECT core.refresh_snapshot(%s, %s)", (SNAPSHOT, dates[1]))
        cur.execute("SELECT core.refresh_titles(array_agg(mal_id)) FROM core.anime_snapshots")
    before = warehouse_state(warehouse, lineage=True)
    physical = fetch(warehouse, "SELECT ctid, xmin::text, mal_id FROM core.anime_snapshots ORDER BY mal_id")
    metrics_before = run_metrics(warehouse)
    requests_before = len(anime_requests(replay))
    assert len(before["core.anime_snapshots"]) == 36

    created = cluster["run"]("backfill", "create", "--dag-id", DAG_ID, "--from-date", dates[0].isoformat(),
                             "--to-date", dates[-1].isoformat())
    deadline = time.monotonic() + 240
    runs = []
    while time.monotonic() < deadline:
        for name, (proc, _) in cluster["procs"].items():
            assert proc.poll() is None, f"airflow {name} exited early\n{process_logs(cluster)}"
        runs = cluster["meta"]("SELECT run_id, logical_date, state FROM dag_run WHERE dag_id = %s "
                               "AND run_type = 'backfill' ORDER BY logical_date", (DAG_ID,))
        if len(runs) == 3 and all(state in ("success", "failed") for _, _, state in runs):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the backfill runs did not finish: {runs}\n{created[-1000:]}\n{process_logs(cluster)}")

    assert [(r[1].date(), r[2]) for r in runs] == [(d, "success") for d in dates]
    tis = cluster["meta"]("SELECT run_id, task_id, state FROM task_instance WHERE dag_id = %s AND run_id = ANY(%s)",
                          (DAG_ID, [r[0] for r in runs]))
    assert len(tis) == 3 * 6 and {t[2] for t in tis} == {"skipped"}, tis
    # Jikan was never called and nothing was written but the three runs' outcome rows
    assert len(anime_requests(replay)) == requests_before
    assert warehouse_state(warehouse, lineage=True) == before
    assert fetch(warehouse, "SELECT ctid, xmin::text, mal_id FROM core.anime_snapshots ORDER BY mal_id") == physical
    assert len(batches(warehouse)) == 1  # the seed's
    skipped = [m for m in run_metrics(warehouse) if m not in metrics_before]
    assert sorted((m[1], m[3], m[13]) for m in skipped) == sorted((r[0], d, "skipped") for r, d in zip(runs, dates))
    assert all("Jikan serves only current data and has no history" in m[15] for m in skipped), skipped
    # ... and the extract task's log says why
    logs = [p.read_text(errors="replace") for p in cluster["task_logs"].rglob("*") if p.is_file()
            and "task_id=extract" in str(p)]
    assert len([t for t in logs if "has no history" in t]) == 3, f"{len(logs)} extract logs"
