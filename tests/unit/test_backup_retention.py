"""Retention keeps the newest backup of each of the last 7 days, 4 ISO weeks and 12 months, the newest backup
and the newest verified one, and removes what interrupted backups left once they are old."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

from anime_dashboard.backups.location import INCOMING, MANIFEST, BackupLocation
from anime_dashboard.backups.retention import apply_retention, backups_to_keep
from anime_dashboard.settings import BackupSettings


def twice_a_day(last: datetime, days: int) -> list[str]:
    """Backup ids at 00:00 and 12:00 UTC of each day, ending with ``last``."""
    return [(last - timedelta(hours=12 * i)).strftime("%Y%m%dT%H%M%SZ") for i in range(2 * days)]


def noon(day: str) -> str:
    return f"{day.replace('-', '')}T120000Z"


def test_the_newest_of_each_of_the_last_7_days_4_weeks_and_12_months_are_kept():
    ids = twice_a_day(datetime(2026, 12, 7, 12, tzinfo=timezone.utc), days=500)  # Monday 7 December 2026
    keep = backups_to_keep(ids, daily=7, weekly=4, monthly=12)
    daily = {noon(f"2026-12-0{d}") for d in range(1, 8)}  # 1..7 December
    weekly = {noon("2026-12-07"), noon("2026-12-06"), noon("2026-11-29"), noon("2026-11-22")}  # Mon, then Sundays
    monthly = {noon("2026-12-07")} | {noon(d) for d in (
        "2026-11-30", "2026-10-31", "2026-09-30", "2026-08-31", "2026-07-31", "2026-06-30", "2026-05-31",
        "2026-04-30", "2026-03-31", "2026-02-28", "2026-01-31")}
    assert keep == daily | weekly | monthly
    assert len(keep) == 20


def test_the_newest_verified_backup_is_kept_however_old_and_the_newest_backup_always():
    ids = twice_a_day(datetime(2026, 12, 7, 12, tzinfo=timezone.utc), days=500)
    verified = "20250801T000000Z"
    assert verified in ids
    assert verified in backups_to_keep(ids, daily=7, weekly=4, monthly=12, protect=[verified])
    assert verified not in backups_to_keep(ids, daily=7, weekly=4, monthly=12)
    assert backups_to_keep(ids, daily=0, weekly=0, monthly=0) == {"20261207T120000Z"}
    assert backups_to_keep([], daily=7, weekly=4, monthly=12, protect=[verified]) == set()


def test_settings_change_how_many_of_each_are_kept():
    ids = twice_a_day(datetime(2026, 12, 7, 12, tzinfo=timezone.utc), days=40)
    assert len(backups_to_keep(ids, daily=30, weekly=0, monthly=0)) == 30
    assert backups_to_keep(ids, daily=1, weekly=0, monthly=2) == {noon("2026-12-07"), noon("2026-11-30")}


def fake_backup(root, backup_id: str) -> None:
    folder = root / backup_id
    folder.mkdir(parents=True)
    (folder / "warehouse.dump").write_bytes(b"PGDMP")
    (folder / MANIFEST).write_text(json.dumps({"backup_id": backup_id}))


def test_apply_retention_deletes_from_the_location_and_only_old_leftovers_of_interrupted_backups(tmp_path):
    ids = twice_a_day(datetime(2026, 12, 7, 12, tzinfo=timezone.utc), days=10)
    for backup_id in ids:
        fake_backup(tmp_path, backup_id)
    (tmp_path / "20261101T000000Z").mkdir()  # no manifest: not a backup, and not retention's to judge
    old, running = tmp_path / INCOMING / "20261130T000000Z", tmp_path / INCOMING / "20261207T130000Z"
    old.mkdir(parents=True)
    running.mkdir()
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    said = []
    done = apply_retention(BackupLocation(str(tmp_path)), BackupSettings(url=str(tmp_path), keep_daily=3,
                                                                          keep_weekly=2, keep_monthly=1),
                           newest_verified="20261128T000000Z", out=said.append)
    kept = {noon("2026-12-07"), noon("2026-12-06"), noon("2026-12-05"), "20261128T000000Z"}  # 3 days, Sunday 6th
    assert set(done["kept"]) == kept
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != INCOMING) == sorted(kept | {"20261101T000000Z"})
    assert set(done["deleted"]) == set(ids) - kept and len(said) == len(ids) - len(kept) + 1
    assert done["leftovers_removed"] == [old.name] and running.is_dir() and not old.exists()
