"""The four snapshot types: one table of Jikan queries, page caps and schedules.

Every DAG, test and benchmark reads this table; nothing else names a query. A type's *definition* is its
query and page cap (:attr:`SnapshotType.definition`): every stored snapshot records the definition it was
fetched with (``core.list_definitions``), and the history views never compare snapshots of two definitions,
so changing a query or a cap here starts a new version of that list instead of a seam in its history.

The lists are the market's:

* ``top``: finished titles by score, best first (``order_by=score&sort=desc``), 500 titles.
* ``airing``, ``upcoming``, ``movies``: the most-followed titles first, ``order_by=members&sort=desc``.
  The seed wrote ``order_by=popularity&sort=desc``, but ``popularity`` is MyAnimeList's popularity *rank*
  (1 = most members) and Jikan sorts literally on the stored field, so that query returned the *least*
  popular titles first (One Piece, with 2.2M members, came last in ``airing``). ``popularity&sort=asc``
  would put the unranked titles (``popularity: 0``) first; ``members desc`` is MyAnimeList's popularity
  order without them, and the way other Jikan clients ask for "popular anime".

Page caps (25 titles a page, Jikan's maximum): ``top`` 20 pages (500 titles), ``airing`` every currently
airing title up to 20 pages, ``upcoming`` and ``movies`` 8 pages (200 each): at most 56 requests a day, about
one minute at the limiter's pace. The seed fetched 8 pages of ``top`` and 4 of each other list.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SnapshotType:
    name: str  # stored in core.anime_snapshots.snapshot_type
    dag_id: str
    description: str
    params: dict[str, str] = field(default_factory=dict)  # query on GET /v4/anime, besides page/limit
    max_pages: int = 8  # 25 titles a page (Jikan's max)
    schedule: str = "@daily"

    @property
    def asset_name(self) -> str:
        return f"anime_snapshots_{self.name}"

    @property
    def definition(self) -> tuple[dict[str, str], int]:
        """What a snapshot of this type is: its query and its page cap (stored as core.list_definitions)."""
        return dict(self.params), self.max_pages

    @property
    def query_string(self) -> str:
        """The query as it is written on GET /v4/anime (without page and limit)."""
        return "&".join(f"{k}={v}" for k, v in self.params.items())


PAGE_SIZE = 25  # Jikan's maximum `limit`

SNAPSHOT_TYPES: tuple[SnapshotType, ...] = (
    SnapshotType(
        name="top",
        dag_id="jikan_top_anime",
        description="Finished titles by score, best first (500 titles)",
        params={"status": "complete", "order_by": "score", "sort": "desc"},
        max_pages=20,
    ),
    SnapshotType(
        name="airing",
        dag_id="jikan_airing",
        description="Currently airing titles, most members first (all of them, up to 500)",
        params={"status": "airing", "order_by": "members", "sort": "desc"},
        max_pages=20,
    ),
    SnapshotType(
        name="upcoming",
        dag_id="jikan_upcoming",
        description="Titles not yet aired, most members first (200 titles)",
        params={"status": "upcoming", "order_by": "members", "sort": "desc"},
        max_pages=8,
    ),
    SnapshotType(
        name="movies",
        dag_id="jikan_movies",
        description="Movies, most members first (200 titles)",
        params={"type": "movie", "order_by": "members", "sort": "desc"},
        max_pages=8,
    ),
)

BY_NAME = {s.name: s for s in SNAPSHOT_TYPES}
BY_DAG_ID = {s.dag_id: s for s in SNAPSHOT_TYPES}
