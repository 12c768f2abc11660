"""The warehouse_backup DAG run for real (``dag.test()``): backup -> verify when due -> retention, against the real
Postgres, into a location of the test's own; what the Airflow UI shows when the location is full, unwritable, or
a backup does not match its manifest."""
from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from anime_dashboard.backups.location import VERIFICATION, BackupLocation
from anime_dashboard.backups.take import sha256_of, size_of
from anime_dashboard.history import generate_history
from support import query_db
from testkit.ports import free_port

TODAY = datetime.now(timezone.utc).date()


@pytest.fixture
def backup_dag(dags, warehouse, monkeypatch, tmp_path):
    """The DAG with its backups going to tmp_path/backups, over a warehouse with a few synthetic days; its tasks
    do not retry (a retry waits 30 s and changes nothing here)."""
    generate_history(warehouse, end_date=TODAY - timedelta(days=1), days=3)
    warehouse.commit()
    monkeypatch.setenv("ANIME_DASHBOARD_BACKUP_URL", str(tmp_path / "backups"))
    dag = dags["warehouse_backup"]
    for task in dag.tasks:
        monkeypatch.setattr(task, "retries", 0)
    return dag


def states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def backups_view(warehouse) -> list[tuple]:
    with warehouse.cursor() as cur:
        cur.execute("SELECT backup_id, verified, kept FROM analytics.backups ORDER BY backup_id")
        rows = cur.fetchall()
    warehouse.commit()
    return rows


def test_a_run_backs_up_verifies_the_first_backup_then_verifies_again_only_when_due(backup_dag, warehouse,
                                                                                  tmp_path):
    location = BackupLocation(str(tmp_path / "backups"))
    first = backup_dag.test()
    assert first.state == "success" and states(first) == {"backup": "success", "verify": "success",
                                                          "retention": "success"}
    (one,) = location.backup_ids()
    assert location.read_json(one, VERIFICATION)["ok"] is True
    manifest = location.manifest(one)
    assert manifest["trigger"] == first.run_id and "warehouse" in manifest["databases"]
    assert manifest["databases"]["warehouse"]["row_counts"]["core.snapshots"] == 12

    second = backup_dag.test()
    assert second.state == "success"
    assert states(second) == {"backup": "success", "verify": "skipped", "retention": "success"}
    one_, two = location.backup_ids()
    assert location.read_json(two, VERIFICATION) is None
    assert backups_view(warehouse) == [(one, True, True), (two, None, True)]

    # eight days later the newest backup is verified again
    record = location.read_json(one, VERIFICATION)
    record["verified_at"] = (datetime.now(timezone.utc) - timedelta(days=8)).isoformat()
    (tmp_path / "backups" / one / VERIFICATION).write_text(json.dumps(record))
    third = backup_dag.test()
    assert states(third)["verify"] == "success"
    assert location.read_json(location.backup_ids()[-1], VERIFICATION)["ok"] is True


def _mount_tmpfs(path, size: int) -> None:
    path.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    """A filesystem of its own for the backups (tmpfs), unmounted afterwards: needs root."""
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: a full or read-only filesystem for the backups needs root (mount -t tmpfs)")
    mounts = []

    def mount(size: int):
        target = tmp_path / f"disk{len(mounts)}"
        _mount_tmpfs(target, size)
        mounts.append(target)
        return target

    yield mount
    for target in mounts:
        subprocess.run(["umount", str(target)], check=False)


def test_a_full_location_fails_the_run_naming_it_and_retention_deletes_nothing(backup_dag, small_disk, monkeypatch,
                                                                               tmp_path):
    assert backup_dag.test().state == "success"  # once in tmp_path/backups: how big a backup is here
    size = size_of(BackupLocation(str(tmp_path / "backups")).manifest(BackupLocation(
        str(tmp_path / "backups")).backup_ids()[0]))
    disk = small_disk(int(size * 1.5))  # room for one backup, not two
    monkeypatch.setenv("ANIME_DASHBOARD_BACKUP_URL", str(disk))
    first = backup_dag.test()
    assert first.state == "success", states(first)
    location = BackupLocation(str(disk))
    (kept,) = location.backup_ids()
    files = {p.name: sha256_of(p) for p in (disk / kept).iterdir()}

    full = backup_dag.test()
    assert full.state == "failed"
    assert states(full) == {"backup": "failed", "verify": "success", "retention": "upstream_failed"}
    assert location.backup_ids() == [kept]
    assert {p.name: sha256_of(p) for p in (disk / kept).iterdir() if p.name != VERIFICATION} == \
        {k: v for k, v in files.items() if k != VERIFICATION}
    assert location.read_json(kept, VERIFICATION)["ok"] is True  # checked again after the failed backup
    assert not any((disk / ".incoming").iterdir())  # the failed one's files are gone


def test_a_read_only_location_fails_the_backup_with_a_message_naming_it(backup_dag, small_disk, monkeypatch):
    from anime_dashboard.backups.location import BackupLocation as Location
    from anime_dashboard.backups.take import take_backup
    from anime_dashboard.backups.databases import BackupError

    disk = small_disk(64 << 20)
    monkeypatch.setenv("ANIME_DASHBOARD_BACKUP_URL", str(disk))
    assert backup_dag.test().state == "success"
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    run = backup_dag.test()
    assert run.state == "failed" and states(run)["backup"] == "failed" and states(run)["retention"] == "upstream_failed"
    assert len(Location(str(disk)).backup_ids()) == 1
    with pytest.raises(BackupError, match=f"backup location {disk} is not writable: .*Read-only file system"):
        take_backup(Location(str(disk)))


def test_after_a_failed_backup_the_newest_backup_is_verified_and_a_mismatch_fails_the_run(backup_dag, warehouse,
                                                                                          monkeypatch, tmp_path):
    assert backup_dag.test().state == "success"
    location = BackupLocation(str(tmp_path / "backups"))
    (newest,) = location.backup_ids()
    manifest = location.manifest(newest)
    manifest["databases"]["warehouse"]["row_counts"]["core.snapshots"] += 1  # the archive holds one fewer
    (tmp_path / "backups" / newest / "manifest.json").write_text(json.dumps(manifest))
    # the next backup fails: Superset's metadata database does not answer
    monkeypatch.setenv("ANIME_DASHBOARD_SUPERSET_DATABASE_URI",
                       f"postgresql://superset@127.0.0.1:{free_port()}/superset")
    run = backup_dag.test()
    assert run.state == "failed"
    assert states(run) == {"backup": "failed", "verify": "failed", "retention": "upstream_failed"}
    outcome = location.read_json(newest, VERIFICATION)
    assert outcome["ok"] is False
    assert outcome["problems"] == ["warehouse: core.snapshots has 12 rows restored, the manifest says 13"]
    assert backups_view(warehouse) == [(newest, False, True)]


def test_the_dashboard_view_shows_the_age_of_each_backup_and_whether_it_was_verified(backup_dag, warehouse,
                                                                                       warehouse_db):
    assert backup_dag.test().state == "success"
    rows = query_db(warehouse_db, "SELECT age_hours, verified, size_bytes > 0, databases, snapshots, "
                                  "last_snapshot_date FROM analytics.backups")
    assert rows[0][0] < 0.1 and rows[0][1:] == (True, True, rows[0][3], 12, TODAY - timedelta(days=1))
    assert "warehouse" in rows[0][3]
