"""The plan of a synthetic history, in plain Python (no database): for each anchor (the real snapshot the
synthetic days before it are built back from), which titles are in its list on which day, and the values
their drift starts from. ``anime_dashboard.history`` reads the anchors from the warehouse, writes the plan
into work tables and lets Postgres compute the days.
"""
from __future__ import annotations

import bisect
import hashlib
import itertools
import math
from dataclasses import dataclass, field
from datetime import date

from anime_dashboard.jikan.replay import STATUS_FILTERS, TYPE_FILTERS
from anime_dashboard.models import AnimeRecord
from anime_dashboard.snapshots import SnapshotType

VARIANT_STRIDE = 1_000_000  # variant k of title X: k * VARIANT_STRIDE + X
_MAX_INT = 2**31 - 1

# Share of a list swapped a day. airing/upcoming: a season (about 90 days) turns most of the list over;
# top (500 finished titles by score) and movies (200 by members) change by a few titles a week.
CHURN_PER_DAY = {"top": 0.002, "airing": 0.009, "upcoming": 0.007, "movies": 0.002}
DEFAULT_CHURN_PER_DAY = 0.003
NEIGHBOURS = 5  # the local slope of the rank curves: over this many titles either side


def uniform(*key) -> float:
    """A deterministic number in [0, 1) for this key."""
    digest = hashlib.md5(":".join(map(str, key)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def matches(snapshot: SnapshotType | dict, raw: dict) -> bool:
    """Whether a query (a snapshot type's, or a stored definition's) returns this object (the replay's filters)."""
    params = snapshot.params if isinstance(snapshot, SnapshotType) else snapshot
    status = params.get("status")
    if status and raw.get("status") != STATUS_FILTERS[status.lower()]:
        return False
    type_ = params.get("type")
    if type_ and not (isinstance(raw.get("type"), str) and raw["type"].lower() == TYPE_FILTERS[type_.lower()]):
        return False
    return True




@dataclass(frozen=True)
class Ref:
    """A title's values on its anchor day (what its drift starts from)."""

    score: float | None
    scored_by: int | None
    members: int | None
    favorites: int | None
    rank: int | None
    popularity: int | None


@dataclass
class Anchor:
    """The snapshot a type's synthetic days are built back from."""

    snapshot_type: str
    anchor_date: date
    definition_id: int
    params: dict
    listed: list[int]  # mal_ids in list order
    real: bool
    days: list[date] = field(default_factory=list)  # the synthetic days built from it


@dataclass
class Member:
    """A title's presence in a list built from one anchor: on days t_from..t_to before it (None: no end)."""

    snapshot_type: str
    anchor_date: date
    mal_id: int
    t_from: int
    t_to: int | None
    tie_order: int


def churn_counts(per_day: float, days: int) -> list[int]:
    """Swaps between day t + 1 and day t before the anchor, t = 0 .. days - 1: per_day on average, spread
    evenly (floor((t + 1) * r) - floor(t * r)), so the anchor's own day gets what any day gets."""
    return [math.floor((t + 1) * per_day) - math.floor(t * per_day) for t in range(days)]


class RankCurve:
    """A rank as a decreasing function of a value, read off one day's titles (score -> MyAnimeList rank,
    log members -> popularity): piecewise linear, slopes over NEIGHBOURS titles either side."""

    def __init__(self, points: list[tuple[float, int]]):
        pts = sorted((v, r) for v, r in points if v is not None and r is not None and r > 0)
        self.values = [v for v, _ in pts]  # ascending
        self.ranks = [r for _, r in pts]
        span = (self.values[-1] - self.values[0]) if len(pts) > 1 else 0.0
        self.global_slope = ((max(self.ranks) - min(self.ranks)) / span) if span > 0 else 0.0

    def slope(self, value: float | None) -> float:
        """Ranks per unit of value near ``value`` (>= 0)."""
        if value is None or len(self.values) < 2:
            return 0.0
        i = min(bisect.bisect_left(self.values, value), len(self.values) - 1)
        lo, hi = max(0, i - NEIGHBOURS), min(len(self.values) - 1, i + NEIGHBOURS)
        dv = self.values[hi] - self.values[lo]
        return max(0.0, (self.ranks[lo] - self.ranks[hi]) / dv) if dv > 0 else self.global_slope

    def rank(self, value: float | None) -> int | None:
        """The rank a title with this value would have (interpolated; at least 1)."""
        if value is None or not self.values:
            return None
        i = bisect.bisect_left(self.values, value)
        if 0 < i < len(self.values):
            v0, v1, r0, r1 = self.values[i - 1], self.values[i], self.ranks[i - 1], self.ranks[i]
            guess = r0 + (r1 - r0) * ((value - v0) / (v1 - v0) if v1 > v0 else 0.0)
        else:
            edge = 0 if i == 0 else len(self.values) - 1
            guess = self.ranks[edge] - self.slope(self.values[edge]) * (value - self.values[edge])
        return max(1, round(guess))


def log_members(members: int | None) -> float | None:
    return math.log(members) if members and members > 0 else None


@dataclass
class Plan:
    """Everything the SQL needs: the titles with their reference values, the lists' members, the targets."""

    titles: dict[tuple[date, int], tuple] = field(default_factory=dict)  # (anchor_date, mal_id) -> row
    members: list[Member] = field(default_factory=list)
    targets: list[tuple[str, date, date, int, int, int]] = field(default_factory=list)

    def add_title(self, anchor_date: date, mal_id: int, base: int, variant: int, statics_type: str | None,
                  ref: Ref, rank_slope: float, popularity_slope: float) -> None:
        self.titles.setdefault((anchor_date, mal_id), (
            anchor_date, mal_id, base, variant, statics_type, ref.score, ref.scored_by, ref.members,
            ref.favorites, ref.rank, ref.popularity, rank_slope, popularity_slope))


class VariantMaker:
    """Variants (synthetic titles) of corpus titles: k = 1, 2, ... per corpus title, never reused in a run
    and never one of the ``taken`` mal_ids (the anchors' own titles)."""

    def __init__(self, corpus: list[tuple[dict, AnimeRecord]], taken: set[int]):
        self.corpus = corpus
        self.taken = taken
        self.next_k: dict[int, int] = {}

    def bases(self, params: dict) -> list[int]:
        """The corpus titles the query returns (all of them if it returns none)."""
        found = [rec.mal_id for raw, rec in self.corpus if matches(params, raw)]
        return found or [rec.mal_id for _, rec in self.corpus]

    def make(self, base: int) -> tuple[int, int]:
        k = self.next_k.get(base, 1)
        while k * VARIANT_STRIDE + base in self.taken:
            k += 1
        self.next_k[base] = k + 1
        mal_id = k * VARIANT_STRIDE + base
        if mal_id > _MAX_INT:
            raise ValueError(f"the lists need more variants of corpus title {base} than mal_ids allow")
        return mal_id, k


def plan_anchor(plan: Plan, anchor: Anchor, refs: dict[int, Ref], statics: dict[int, str | None],
                curves: tuple[RankCurve, RankCurve], variants: VariantMaker, list_size: int,
                corpus_refs: dict[int, Ref]) -> None:
    """The members of one anchor's lists, back to its oldest synthetic day, and their reference values."""
    score_curve, members_curve = curves
    t_max = max((anchor.anchor_date - d).days for d in anchor.days)
    bases = variants.bases(anchor.params)
    key = (anchor.snapshot_type, anchor.anchor_date.isoformat())
    present: list[int] = []  # mal_ids in the list on the day being planned
    since: dict[int, tuple[int, int]] = {}  # mal_id -> (first day t it is in the list, tie order)
    added = itertools.count(1)  # titles planned for this anchor: the tie order (the anchor's own first)

    def add(mal_id: int, base: int, variant: int, statics_type: str | None, ref: Ref, t_from: int) -> None:
        plan.add_title(anchor.anchor_date, mal_id, base, variant, statics_type, ref,
                       score_curve.slope(ref.score), members_curve.slope(log_members(ref.members)))
        present.append(mal_id)
        since[mal_id] = (t_from, next(added))

    def add_variant(like: Ref, t_from: int) -> None:
        """A variant with values close to ``like`` (the title it stands in for)."""
        base = bases[int(uniform(*key, "base", len(plan.titles)) * len(bases))]
        mal_id, k = variants.make(base)
        f = 0.85 + 0.3 * uniform(mal_id, "audience")
        score = (None if like.score is None
                 else min(10.0, max(1.0, round(like.score + 0.3 * (uniform(mal_id, "score") - 0.5), 2))))
        members = None if like.members is None else round(like.members * f)
        ref = Ref(score, None if like.scored_by is None else round(like.scored_by * f), members,
                  None if like.favorites is None else round(like.favorites * f),
                  score_curve.rank(score) if like.rank else like.rank,
                  members_curve.rank(log_members(members)) if like.popularity else like.popularity)
        add(mal_id, base, k, None, ref, t_from)

    for mal_id in anchor.listed:
        add(mal_id, mal_id % VARIANT_STRIDE, mal_id // VARIANT_STRIDE, statics[mal_id], refs[mal_id], 0)
    for n in range(max(0, list_size - len(anchor.listed))):  # a list longer than its anchor: topped up
        add_variant(corpus_refs[bases[int(uniform(*key, "fill", n) * len(bases))]], 1)
    rate = CHURN_PER_DAY.get(anchor.snapshot_type, DEFAULT_CHURN_PER_DAY) * list_size
    for t, swaps in enumerate(churn_counts(rate, t_max)):
        # between day t + 1 and day t: `swaps` titles entered on day t (absent before it), as many left
        for j in range(min(swaps, len(present))):
            entered = present.pop(int(uniform(*key, "enter", t, j) * len(present)))
            t_from, tie = since.pop(entered)
            plan.members.append(Member(anchor.snapshot_type, anchor.anchor_date, entered, t_from, t, tie))
            add_variant(Ref(*plan.titles[anchor.anchor_date, entered][5:11]), t + 1)
    for mal_id in present:
        t_from, tie = since[mal_id]
        plan.members.append(Member(anchor.snapshot_type, anchor.anchor_date, mal_id, t_from, None, tie))
    for d in anchor.days:
        plan.targets.append((anchor.snapshot_type, d, anchor.anchor_date, (anchor.anchor_date - d).days,
                             anchor.definition_id, list_size))


def build_plan(anchors: list[Anchor], refs: dict[date, dict[int, Ref]], statics: dict[date, dict[int, str | None]],
               corpus: list[tuple[dict, AnimeRecord]], list_sizes: dict[str, int]) -> Plan:
    """The plan of every anchor's synthetic days (anchors in a fixed order: the same plan on every run).

    ``refs``: each anchor date's titles and their values that day; ``statics``: where each of them takes its
    attributes from (its row in that type's snapshot; None: the corpus); ``list_sizes`` overrides the
    lists' lengths (default: the anchor's).
    """
    corpus_refs = {rec.mal_id: Ref(rec.score, rec.scored_by, rec.members, rec.favorites, rec.rank,
                                   rec.popularity) for _, rec in corpus}
    plan = Plan()
    variants = VariantMaker(corpus, {m for a in anchors for m in a.listed})
    curves = {d: (RankCurve([(r.score, r.rank) for r in rs.values()]),
                  RankCurve([(log_members(r.members), r.popularity) for r in rs.values()]))
              for d, rs in refs.items()}
    for a in sorted(anchors, key=lambda a: (a.anchor_date, a.snapshot_type)):
        if not a.listed:
            raise ValueError(f"the {a.snapshot_type} snapshot of {a.anchor_date} lists no title to build "
                             "history from")
        plan_anchor(plan, a, refs[a.anchor_date], statics[a.anchor_date], curves[a.anchor_date], variants,
                    list_sizes.get(a.snapshot_type, len(a.listed)), corpus_refs)
    return plan
