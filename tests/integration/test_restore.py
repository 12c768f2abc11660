"""`anime-dashboard restore`: a backup put back into the configured warehouse in one command, setup run again so the
analyst reads it at once; refused when it would lose snapshots; all or nothing."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest

from anime_dashboard.backups import databases as dbs
from anime_dashboard.backups.databases import BackupError
from anime_dashboard.backups.location import BackupLocation
from anime_dashboard.backups.restore import restore_backup
from anime_dashboard.backups.take import sha256_of, take_backup
from anime_dashboard.backups.verify import verify_backup
from anime_dashboard.history import generate_history
from pipeline_runs import load
from support import PG, RUN_TOKEN, copy_warehouse, query_db
from testkit.warehouse import drop_database, drop_role, pg_uri

TODAY = datetime.now(timezone.utc).date()


@pytest.fixture
def backed_up(warehouse, replay, tmp_path):
    """A warehouse with today's airing snapshot and four synthetic days, and a verified backup of it."""
    load(warehouse, "airing", "run-airing")
    generate_history(warehouse, end_date=TODAY - timedelta(days=1), days=4)
    warehouse.commit()
    location = BackupLocation(str(tmp_path / "backups"))
    manifest = take_backup(location, [dbs.warehouse()])
    verify_backup(location, manifest["backup_id"])
    return location, manifest


def restore_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "anime_dashboard.cli", "restore", *args], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def new_target(backed_up):
    """The environment of a deployment whose warehouse database is gone (a lost volume): its name and analyst
    role unique to this run; both removed after."""
    location, _ = backed_up
    name, role = f"ad_test_restored_{RUN_TOKEN}", f"ad_restore_analyst_{RUN_TOKEN}"
    env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE": pg_uri(name), "ANIME_DASHBOARD_ANALYST_USER": role,
           "ANIME_DASHBOARD_ANALYST_PASSWORD": secrets.token_urlsafe(16), "ANIME_DASHBOARD_BACKUP_URL": str(location)}
    env.pop("AIRFLOW_CONN_SUPERSET", None)
    yield name, role, env
    drop_database(name)
    drop_role(role)


def snapshot_tables(conn) -> dict[str, bytes]:
    copies = copy_warehouse(conn)
    return {t: copies[t] for t in ("core.anime_snapshots", "core.snapshots", "raw.jikan_pages",
                                   "raw.extract_batches", "core.list_definitions")}


def test_restore_into_a_lost_database_creates_it_and_the_analyst_reads_it_at_once(backed_up, new_target,
                                                                                   warehouse):
    name, role, env = new_target
    out = restore_cli(env)
    assert out.returncode == 0, out.stderr
    said = out.stdout + out.stderr
    backup_id = backed_up[1]["backup_id"]
    assert f"created the database postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{name}" in said
    assert f"restored warehouse from backup {backup_id}" in said and "setup run again" in said
    assert "Superset's chart caches were not refreshed" in said  # no Superset here: it says so

    restored = psycopg2.connect(dbname=name, **PG)
    try:
        assert snapshot_tables(restored) == snapshot_tables(warehouse)
    finally:
        restored.close()
    analyst = psycopg2.connect(dbname=name, host=PG["host"], port=PG["port"], user=role)
    try:
        with analyst.cursor() as cur:
            cur.execute("SELECT snapshot_type, count(*) FROM analytics.latest_snapshot GROUP BY 1 ORDER BY 1")
            latest = dict(cur.fetchall())
            cur.execute("SELECT backup_id, verified FROM analytics.backups")
            assert cur.fetchall() == [(backup_id, True)]
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("SELECT 1 FROM core.anime_snapshots")
    finally:
        analyst.close()
    assert latest["airing"] == query_db(name, "SELECT count(*) FROM core.anime_snapshots WHERE snapshot_type = "
                                              "'airing' AND snapshot_date = %s", (TODAY,))[0][0] == 36


def test_restore_refuses_a_warehouse_holding_snapshots_the_backup_lacks_and_names_them(backed_up, warehouse,
                                                                                       replay, monkeypatch):
    location, manifest = backed_up
    load(warehouse, "upcoming", "run-upcoming-later")  # loaded after the backup
    before = snapshot_tables(warehouse)
    env = {**os.environ, "ANIME_DASHBOARD_BACKUP_URL": str(location)}
    out = restore_cli(env, manifest["backup_id"])
    assert out.returncode == 2
    assert f"holds 1 snapshots that backup {manifest['backup_id']} does not" in out.stderr
    assert f"upcoming {TODAY.isoformat()}" in out.stderr and "--force" in out.stderr
    assert snapshot_tables(warehouse) == before

    monkeypatch.setenv("ANIME_DASHBOARD_BACKUP_URL", str(location))
    done = restore_backup(location, manifest["backup_id"], force=True, out=lambda _: None)
    assert done["dropped_snapshots"] == [("upcoming", TODAY.isoformat())]
    assert query_db(warehouse.info.dbname, "SELECT count(*) FROM core.snapshots WHERE snapshot_type = 'upcoming' "
                                           "AND snapshot_date = %s", (TODAY,)) == [(0,)]


def test_a_day_overwritten_by_mistake_comes_back_from_the_backup(backed_up, warehouse):
    location, manifest = backed_up
    before = snapshot_tables(warehouse)
    with warehouse, warehouse.cursor() as cur:  # a bad rerun: today's airing figures zeroed
        cur.execute("UPDATE core.anime_snapshots SET members = 0, score = NULL WHERE snapshot_type = 'airing' "
                    "AND snapshot_date = %s", (TODAY,))
    assert snapshot_tables(warehouse) != before
    restore_backup(location, out=lambda _: None)  # the newest verified one: no date would be lost
    assert snapshot_tables(warehouse) == before


def test_a_restore_that_fails_midway_leaves_the_warehouse_as_it_was(backed_up, warehouse, tmp_path):
    location, manifest = backed_up
    # a damaged archive that still reads as one: cut short, its manifest updated to match
    folder = tmp_path / "backups" / manifest["backup_id"]
    dump = folder / "warehouse.dump"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size * 2 // 3])
    manifest["files"]["warehouse.dump"].update(bytes=dump.stat().st_size, sha256=sha256_of(dump))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    before = copy_warehouse(warehouse)
    with pytest.raises(BackupError, match="is unchanged"):
        restore_backup(location, manifest["backup_id"], out=lambda _: None)
    assert copy_warehouse(warehouse) == before


def test_a_file_that_does_not_match_its_manifest_is_never_restored(backed_up, warehouse, tmp_path):
    location, manifest = backed_up
    dump = tmp_path / "backups" / manifest["backup_id"] / "warehouse.dump"
    data = bytearray(dump.read_bytes())
    data[-1] ^= 0x01
    dump.write_bytes(bytes(data))
    before = copy_warehouse(warehouse)
    with pytest.raises(BackupError, match="does not match its manifest .sha256.: it cannot be restored"):
        restore_backup(location, manifest["backup_id"], out=lambda _: None)
    assert copy_warehouse(warehouse) == before


def test_restore_takes_the_newest_verified_backup_unless_told_which(backed_up, warehouse, replay, monkeypatch):
    import time

    location, verified = backed_up
    load(warehouse, "movies", "run-movies")
    time.sleep(1.1)
    newer = take_backup(location, [dbs.warehouse()])  # not verified
    done = restore_backup(location, force=True, out=lambda _: None)
    assert done["backup_id"] == verified["backup_id"]
    assert done["dropped_snapshots"] == [("movies", TODAY.isoformat())]
    assert restore_backup(location, newer["backup_id"], out=lambda _: None)["backup_id"] == newer["backup_id"]

    empty = BackupLocation(str(location.local.parent / "nothing-verified"))
    with pytest.raises(BackupError, match="has passed verification: name one"):
        restore_backup(empty, out=lambda _: None)
