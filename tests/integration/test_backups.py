"""Backups taken, written, verified and kept: pg_dump archives of the real Postgres, SQLite copies, manifests that
describe exactly what the archives hold, nothing under a final name before it is complete."""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import pytest

from anime_dashboard.backups import databases as dbs
from anime_dashboard.backups.databases import BackupError, Database
from anime_dashboard.backups.location import INCOMING, VERIFICATION, BackupLocation
from anime_dashboard.backups.take import sha256_of, take_backup
from anime_dashboard.backups.verify import BackupVerificationError, verify_backup
from anime_dashboard.history import generate_history
from pipeline_runs import load
from support import PG, query_db
from testkit.warehouse import scratch_database

TODAY = datetime.now(timezone.utc).date()


@pytest.fixture
def loaded(warehouse, replay):
    """The session's warehouse with two real snapshots of today and five synthetic days before them."""
    load(warehouse, "airing", "run-airing")
    load(warehouse, "upcoming", "run-upcoming")
    generate_history(warehouse, end_date=TODAY - timedelta(days=1), days=5)
    warehouse.commit()
    return warehouse


def only_warehouse() -> list[Database]:
    return [dbs.warehouse()]


def table_counts(dbname: str) -> dict[str, int]:
    tables = query_db(dbname, "SELECT schemaname, relname FROM pg_stat_user_tables")
    return {f"{s}.{t}": query_db(dbname, f'SELECT count(*) FROM "{s}"."{t}"')[0][0] for s, t in tables}


def server_major() -> int:
    return int(query_db("postgres", "SHOW server_version_num")[0][0]) // 10000


def test_a_backup_is_a_pg_dump_of_the_servers_major_with_a_manifest_of_exactly_its_rows(loaded, warehouse_db,
                                                                                          tmp_path):
    location = BackupLocation(str(tmp_path / "backups"))
    manifest = take_backup(location, only_warehouse())

    folder = tmp_path / "backups" / manifest["backup_id"]
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "warehouse.dump"]
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    dump = folder / "warehouse.dump"
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert manifest["files"]["warehouse.dump"] == {"database": "warehouse", "bytes": dump.stat().st_size,
                                                   "sha256": sha256_of(dump)}
    toc = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"TABLE DATA core anime_snapshots", toc)

    facts = manifest["databases"]["warehouse"]
    major = server_major()
    assert facts["engine"] == "postgresql" and facts["database"] == warehouse_db
    assert facts["server_version"].split(".")[0] == str(major)
    assert f"(PostgreSQL) {major}." in facts["dump_tool"]
    assert facts["migrations"] == [r[0] for r in query_db(warehouse_db, "SELECT version FROM schema_migrations "
                                                                        "ORDER BY 1")]
    assert facts["row_counts"] == table_counts(warehouse_db)
    assert facts["row_counts"]["core.anime_snapshots"] > 100
    assert facts["checksums"]["core.anime_snapshots"]["rows"] == facts["row_counts"]["core.anime_snapshots"]
    stored = query_db(warehouse_db, "SELECT snapshot_type, min(snapshot_date)::text, max(snapshot_date)::text "
                                    "FROM core.snapshots GROUP BY 1")
    assert {kind: runs for kind, runs in facts["snapshots"].items()} == {
        kind: [[first, last]] for kind, first, last in stored}
    assert facts["snapshots"]["airing"] == [[(TODAY - timedelta(days=5)).isoformat(), TODAY.isoformat()]]
    assert manifest["duration_seconds"] > 0 and manifest["taken_at"].startswith(TODAY.isoformat())
    assert not (tmp_path / "backups" / INCOMING).exists() or not any((tmp_path / "backups" / INCOMING).iterdir())


def test_the_manifest_describes_the_dump_even_while_loads_commit_beside_it(loaded, warehouse_db, tmp_path):
    """Counts and checksums are read in the snapshot pg_dump dumps: a writer committing all the while cannot make
    the manifest and the archive disagree (verification restores the archive and compares)."""
    stop, commits = threading.Event(), []

    def writer():
        conn = psycopg2.connect(dbname=warehouse_db, **PG)
        try:
            while not stop.is_set():
                with conn, conn.cursor() as cur:
                    cur.execute("UPDATE core.anime_snapshots SET members = members + 1 WHERE snapshot_type = 'airing'")
                    cur.execute("DELETE FROM core.title_tags WHERE ctid = (SELECT ctid FROM core.title_tags LIMIT 1)")
                commits.append(time.monotonic())
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(commits) < 5:
            time.sleep(0.01)
        started = time.monotonic()
        manifest = take_backup(BackupLocation(str(tmp_path)), only_warehouse())
        finished = time.monotonic()
    finally:
        stop.set()
        thread.join()
    assert sum(started < t < finished for t in commits) >= 3, "the writer did not commit during the backup"
    live = table_counts(warehouse_db)["core.title_tags"]
    assert manifest["databases"]["warehouse"]["row_counts"]["core.title_tags"] > live  # the writer went on after
    assert verify_backup(BackupLocation(str(tmp_path)), manifest["backup_id"])["ok"]


def make_sqlite_metadata(path: Path, charts: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num TEXT)")
        conn.execute("DELETE FROM alembic_version")
        conn.execute("INSERT INTO alembic_version VALUES ('f3c2d8ec8595')")
        conn.execute("CREATE TABLE IF NOT EXISTS slices (id INTEGER PRIMARY KEY, slice_name TEXT)")
        conn.execute("DELETE FROM slices")
        conn.executemany("INSERT INTO slices (slice_name) VALUES (?)", [(f"chart {i}",) for i in range(charts)])
    conn.close()


def test_sqlite_metadata_is_copied_with_sqlite_backup_api_verified_and_restored(loaded, tmp_path, monkeypatch):
    live = tmp_path / "superset.db"
    make_sqlite_metadata(live, charts=7)
    monkeypatch.setenv("ANIME_DASHBOARD_SUPERSET_DATABASE_URI", f"sqlite:///{live}?check_same_thread=false")
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    assert [d.role for d in dbs.configured()] == ["warehouse", "superset"]
    location = BackupLocation(str(tmp_path / "backups"))
    manifest = take_backup(location)
    facts = manifest["databases"]["superset"]
    assert facts["engine"] == "sqlite" and facts["row_counts"] == {"alembic_version": 1, "slices": 7}
    assert facts["migrations"] == ["f3c2d8ec8595"]
    copy = tmp_path / "backups" / manifest["backup_id"] / "superset.sqlite"
    assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert verify_backup(location, manifest["backup_id"])["ok"]

    from anime_dashboard.backups.restore import restore_backup

    make_sqlite_metadata(live, charts=2)  # an analyst's charts lost
    restore_backup(location, manifest["backup_id"], superset=True, out=lambda _: None)
    assert sqlite3.connect(live).execute("SELECT count(*) FROM slices").fetchone() == (7,)


def test_a_backup_killed_mid_dump_leaves_nothing_under_a_final_name_and_earlier_backups_untouched(
        loaded, warehouse_db, tmp_path):
    location = BackupLocation(str(tmp_path))
    earlier = take_backup(location, only_warehouse())
    earlier_files = {p.name: sha256_of(p) for p in (tmp_path / earlier["backup_id"]).iterdir()}
    # pg_dump waits for this lock, so the backup is surely mid-way when it is killed
    blocker = psycopg2.connect(dbname=warehouse_db, **PG)
    env = {**os.environ, "ANIME_DASHBOARD_BACKUP_URL": str(tmp_path)}
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE core.anime_snapshots IN ACCESS EXCLUSIVE MODE")
        time.sleep(1.1)  # a new backup id (they are named by the second)
        proc = subprocess.Popen([sys.executable, "-m", "anime_dashboard.cli", "backup"], env=env,
                                start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not any(query_db("postgres", "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND "
                                           "wait_event_type = 'Lock' AND application_name = 'pg_dump'",
                               (warehouse_db,))):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "pg_dump never started waiting"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # the backup and its pg_dump, as a lost container would
        proc.wait()
    finally:
        blocker.close()
    assert location.backup_ids() == [earlier["backup_id"]]
    assert {p.name: sha256_of(p) for p in (tmp_path / earlier["backup_id"]).iterdir()} == earlier_files
    (leftover,) = (tmp_path / INCOMING).iterdir()  # the interrupted one, under its temporary name only
    assert leftover.name != earlier["backup_id"] and not (tmp_path / leftover.name).exists()

    time.sleep(1.1)
    later = take_backup(location, only_warehouse())
    assert location.backup_ids() == [earlier["backup_id"], later["backup_id"]]
    assert location.remove_leftovers(older_than=0) == [leftover.name]
    assert verify_backup(location, later["backup_id"])["ok"]


def test_an_unwritable_location_fails_at_once_naming_it(loaded, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    env = {**os.environ, "ANIME_DASHBOARD_BACKUP_URL": str(blocked / "backups")}
    out = subprocess.run([sys.executable, "-m", "anime_dashboard.cli", "backup"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2
    assert f"backup location {blocked / 'backups'} is not writable" in out.stderr, out.stderr
    assert blocked.read_text() == "not a folder"


def test_the_backup_command_prints_where_the_backup_went(loaded, tmp_path):
    env = {**os.environ, "ANIME_DASHBOARD_BACKUP_URL": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "anime_dashboard.cli", "backup"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    (backup_id,) = BackupLocation(str(tmp_path)).backup_ids()
    assert f"it went to {tmp_path}/{backup_id}/" in out.stdout
    listing = subprocess.run([sys.executable, "-m", "anime_dashboard.cli", "backups"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert f"{backup_id}" in listing.stdout and "not verified" in listing.stdout
    assert query_db(os.environ["AIRFLOW_CONN_WAREHOUSE"].rsplit("/", 1)[1],
                    "SELECT backup_id, verified FROM analytics.backups") == [(backup_id, None)]


# --- verification ----------------------------------------------------------------------------------------------

def scratch_databases() -> set[str]:
    return {r[0] for r in query_db("postgres", "SELECT datname FROM pg_database WHERE datname LIKE %s",
                                   ("%\\_verify\\_%",))}


def test_verification_restores_into_a_scratch_database_and_records_that_it_passed(loaded, tmp_path):
    location = BackupLocation(str(tmp_path))
    backup_id = take_backup(location, only_warehouse())["backup_id"]
    before = scratch_databases()
    outcome = verify_backup(location, backup_id)
    assert outcome["ok"] and outcome["problems"] == []
    assert location.read_json(backup_id, VERIFICATION) == outcome
    assert scratch_databases() == before  # the scratch database is gone again


def _flip_a_byte(folder: Path, manifest: dict) -> str:
    dump = folder / "warehouse.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    return "warehouse.dump: "


def _edit_a_count(folder: Path, manifest: dict) -> str:
    manifest["databases"]["warehouse"]["row_counts"]["core.anime_snapshots"] += 1
    return "core.anime_snapshots has"


def _edit_a_checksum(folder: Path, manifest: dict) -> str:
    manifest["databases"]["warehouse"]["checksums"]["core.anime_snapshots"]["sum"] = "12345"
    return "the checksum of core.anime_snapshots differs"


def _another_databases_dump(folder: Path, manifest: dict) -> str:
    """A valid archive, but of another warehouse (its sha256 put in the manifest): only the restore can tell."""
    from anime_dashboard.warehouse.migrations import apply_migrations

    with scratch_database("ad_test_other") as (name, conn):
        apply_migrations(conn)
        subprocess.run(["pg_dump", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], "--format=custom",
                        "-f", str(folder / "warehouse.dump"), name], check=True)
    dump = folder / "warehouse.dump"
    manifest["files"]["warehouse.dump"].update(bytes=dump.stat().st_size, sha256=sha256_of(dump))
    return "core.anime_snapshots has"


@pytest.mark.parametrize("tamper", [_flip_a_byte, _edit_a_count, _edit_a_checksum, _another_databases_dump],
                         ids=lambda f: f.__name__.strip("_"))
def test_verification_fails_naming_what_differs_from_the_manifest(loaded, tmp_path, tamper):
    location = BackupLocation(str(tmp_path))
    manifest = take_backup(location, only_warehouse())
    folder = tmp_path / manifest["backup_id"]
    expected = tamper(folder, manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupVerificationError) as failed:
        verify_backup(location, manifest["backup_id"])
    assert expected in str(failed.value) and str(location) in str(failed.value)
    recorded = location.read_json(manifest["backup_id"], VERIFICATION)
    assert recorded["ok"] is False and any(expected in p for p in recorded["problems"])


# --- where backups may go ----------------------------------------------------------------------------------------

def test_an_object_store_url_works_the_same_way(loaded, tmp_path):
    """Any URL Airflow's ObjectStoragePath understands (s3:// with the Amazon provider, gs://, ...): fsspec's
    in-memory filesystem, attached as Airflow attaches a provider's, stands in for a bucket here."""
    import fsspec
    from airflow.sdk.io import attach

    attach("memory", fs=fsspec.filesystem("memory"))
    location = BackupLocation(f"memory://anime-dashboard-test/{tmp_path.name}")
    assert location.local is None
    manifest = take_backup(location, only_warehouse())
    assert location.backup_ids() == [manifest["backup_id"]]
    assert verify_backup(location, manifest["backup_id"])["ok"]
    names = sorted(p.name for p in (location.root / manifest["backup_id"]).iterdir())
    assert names == ["manifest.json", "verification.json", "warehouse.dump"]  # no .partial left
    location.delete(manifest["backup_id"])
    assert location.backup_ids() == []


def test_a_database_that_does_not_answer_fails_the_backup_naming_it(loaded, tmp_path, monkeypatch):
    import secrets

    from testkit.ports import free_port

    port, password = free_port(), secrets.token_hex(8)
    monkeypatch.setenv("ANIME_DASHBOARD_SUPERSET_DATABASE_URI",
                       f"postgresql+psycopg2://superset:{password}@127.0.0.1:{port}/superset")
    with pytest.raises(BackupError) as failed:
        take_backup(BackupLocation(str(tmp_path)))
    assert f"127.0.0.1:{port}/superset" in str(failed.value) and password not in str(failed.value)
    assert BackupLocation(str(tmp_path)).backup_ids() == []
    assert not any((tmp_path / INCOMING).iterdir())


def test_airflows_metadata_is_found_although_airflow_hides_its_own_setting_from_tasks(tmp_path, monkeypatch, caplog):
    """A task process sees AIRFLOW__DATABASE__SQL_ALCHEMY_CONN as ``airflow-db-not-allowed:///``: the backup then
    reads ANIME_DASHBOARD_AIRFLOW_DATABASE_URI, and says so when that is unset too."""
    meta = tmp_path / "airflow.db"
    make_sqlite_metadata(meta, charts=1)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "airflow-db-not-allowed:///")
    monkeypatch.delenv("ANIME_DASHBOARD_AIRFLOW_DATABASE_URI", raising=False)
    assert dbs.airflow_metadata() is None
    assert "set ANIME_DASHBOARD_AIRFLOW_DATABASE_URI" in caplog.text
    monkeypatch.setenv("ANIME_DASHBOARD_AIRFLOW_DATABASE_URI", f"sqlite:///{meta}")
    assert dbs.airflow_metadata() == Database("airflow", "sqlite", {"path": str(meta)})
