"""Which backups to keep: the newest of each of the last N days, ISO weeks and months that have one
(``ANIME_DASHBOARD_BACKUP_KEEP_DAILY`` / ``_WEEKLY`` / ``_MONTHLY``: 7, 4, 12), the newest backup of all, and
the newest one that passed verification, whatever its age."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from anime_dashboard.backups.take import taken_at


def _periods(moment: datetime) -> dict[str, tuple]:
    year, week, _ = moment.isocalendar()
    return {"daily": (moment.date(),), "weekly": (year, week), "monthly": (moment.year, moment.month)}


def backups_to_keep(backup_ids: Iterable[str], *, daily: int, weekly: int, monthly: int,
                    protect: Iterable[str] = ()) -> set[str]:
    """The ids to keep of ``backup_ids``; ``protect`` (the newest verified backup) is always kept."""
    newest_first = sorted(backup_ids, reverse=True)
    keep = set(newest_first[:1]) | (set(protect) & set(newest_first))
    for rule, limit in (("daily", daily), ("weekly", weekly), ("monthly", monthly)):
        seen: set[tuple] = set()
        for backup_id in newest_first:
            period = _periods(taken_at(backup_id))[rule]
            if period not in seen and len(seen) < limit:
                seen.add(period)
                keep.add(backup_id)
    return keep


def apply_retention(location, settings, newest_verified: str | None,
                    out: Callable[[str], None] = lambda _: None) -> dict:
    """Delete what :func:`backups_to_keep` does not keep, and what interrupted backups left behind."""
    ids = location.backup_ids()
    keep = backups_to_keep(ids, daily=settings.keep_daily, weekly=settings.keep_weekly,
                           monthly=settings.keep_monthly, protect=[newest_verified] if newest_verified else [])
    deleted = []
    for backup_id in ids:
        if backup_id not in keep:
            location.delete(backup_id)
            deleted.append(backup_id)
            out(f"deleted backup {backup_id} (retention: {settings.keep_daily} daily, {settings.keep_weekly} "
                f"weekly, {settings.keep_monthly} monthly)")
    leftovers = location.remove_leftovers()
    for name in leftovers:
        out(f"removed {name}, left in {location} by an interrupted backup")
    return {"kept": sorted(keep), "deleted": deleted, "leftovers_removed": leftovers}
