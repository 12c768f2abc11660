"""The four snapshot types: one table of Jikan queries, page caps and schedules.

Every DAG, test and benchmark reads this table; nothing else names a query.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SnapshotType:
    name: str  # stored in core.anime_snapshots.snapshot_type
    dag_id: str
    description: str
    params: dict[str, str] = field(default_factory=dict)  # query on GET /v4/anime, besides page/limit
    max_pages: int = 4  # 25 titles a page (Jikan's max)
    schedule: str = "@daily"

    @property
    def asset_name(self) -> str:
        return f"anime_snapshots_{self.name}"


PAGE_SIZE = 25  # Jikan's maximum `limit`

SNAPSHOT_TYPES: tuple[SnapshotType, ...] = (
    SnapshotType(
        name="top",
        dag_id="jikan_top_anime",
        description="Finished titles ranked by score",
        params={"status": "complete", "order_by": "score", "sort": "desc"},
        max_pages=8,
    ),
    SnapshotType(
        name="airing",
        dag_id="jikan_airing",
        description="Currently airing titles by popularity",
        params={"status": "airing", "order_by": "popularity", "sort": "desc"},
    ),
    SnapshotType(
        name="upcoming",
        dag_id="jikan_upcoming",
        description="Titles not yet aired by popularity",
        params={"status": "upcoming", "order_by": "popularity", "sort": "desc"},
    ),
    SnapshotType(
        name="movies",
        dag_id="jikan_movies",
        description="Movies by popularity",
        params={"type": "movie", "order_by": "popularity", "sort": "desc"},
    ),
)

BY_NAME = {s.name: s for s in SNAPSHOT_TYPES}
BY_DAG_ID = {s.dag_id: s for s in SNAPSHOT_TYPES}
