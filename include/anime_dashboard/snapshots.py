"""The four snapshot types: one table of Jikan queries, page caps and schedules.

Every DAG, test and benchmark reads this table; nothing else names a query. A type's *definition* is its
query and page cap (:attr:`SnapshotType.definition`): every stored snapshot records the definition it was
fetched with (``core.list_definitions``), and the history views never compare snapshots of two definitions,
so changing a query or a cap here starts a new version of that list instead of a seam in its history.

The lists are the market's:

* ``top``: finished titles by score, best first (``order_by=score&sort=desc``), 500 titles.
* ``airing``, ``upcoming``, ``movies``: the most-followed titles first, ``order_by=members&sort=desc``.
  Not ``order_by=popularity``: ``popularity`` is MyAnimeList's popularity *rank* (1 = most members) and
  Jikan sorts literally on the stored field, so ``popularity&sort=desc`` lists the *least* popular titles
  first and ``popularity&sort=asc`` puts the unranked titles (``popularity: 0``) first; ``members desc`` is
  MyAnimeList's popularity order without them, and the way other Jikan clients ask for "popular anime".

Page caps (25 titles a page, Jikan's maximum): ``top`` 20 pages (500 titles), ``airing`` every currently
airing title up to 20 pages, ``upcoming`` and ``movies`` 8 pages (200 each): at most 56 requests a day, about
one minute at the limiter's pace.
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


def most_members(name: str, dag_id: str, description: str, max_pages: int, **filters: str) -> SnapshotType:
    """A list of the titles matching ``filters``, most members first (MyAnimeList's popularity order)."""
    return SnapshotType(name=name, dag_id=dag_id, description=description, max_pages=max_pages,
                        params={**filters, "order_by": "members", "sort": "desc"})


SNAPSHOT_TYPES: tuple[SnapshotType, ...] = (
    SnapshotType(
        name="top",
        dag_id="jikan_top_anime",
        description="Finished titles by score, best first (500 titles)",
        params={"status": "complete", "order_by": "score", "sort": "desc"},
        max_pages=20,
    ),
    most_members("airing", "jikan_airing", "Currently airing titles, most members first (all of them, up to 500)",
                 20, status="airing"),
    most_members("upcoming", "jikan_upcoming", "Titles not yet aired, most members first (200 titles)", 8,
                 status="upcoming"),
    most_members("movies", "jikan_movies", "Movies, most members first (200 titles)", 8, type="movie"),
)

BY_NAME = {s.name: s for s in SNAPSHOT_TYPES}
BY_DAG_ID = {s.dag_id: s for s in SNAPSHOT_TYPES}
