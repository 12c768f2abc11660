"""Which date a run snapshots, and which dates it refuses."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from anime_dashboard.pipeline import StaleSnapshotDate, ensure_current, snapshot_date_for


def test_the_snapshot_date_is_the_logical_date_in_utc():
    tokyo = timezone(timedelta(hours=9))
    assert snapshot_date_for(datetime(2026, 11, 24, 3, 0, tzinfo=tokyo)) == date(2026, 11, 23)


def test_a_manual_run_without_a_logical_date_uses_its_start():
    run_after = datetime(2026, 11, 24, 15, 30, tzinfo=timezone.utc)
    assert snapshot_date_for(None, run_after=run_after) == date(2026, 11, 24)
    assert snapshot_date_for(None, None, start_date=run_after) == date(2026, 11, 24)
    with pytest.raises(ValueError):
        snapshot_date_for(None, None, None)


def test_today_and_yesterday_are_current():
    today = date(2026, 11, 24)
    ensure_current(today, today=today)
    ensure_current(today - timedelta(days=1), today=today)


def test_older_dates_are_refused_with_a_message_that_says_why():
    today = date(2026, 11, 24)
    with pytest.raises(StaleSnapshotDate) as info:
        ensure_current(date(2026, 11, 20), today=today)
    assert "no history" in str(info.value) and "2026-11-20" in str(info.value)
