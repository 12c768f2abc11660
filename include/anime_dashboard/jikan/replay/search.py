"""``GET /v4/anime`` over a corpus as Jikan answers it: validation, filters, order, pagination envelope.

Ordering follows Jikan's source (jikan-me/jikan-rest, read at commit a2a27d0 of 2025-04-17):

* ``app/Enums/AnimeOrderByEnum.php``: the accepted ``order_by`` values; ``labels()`` maps
  ``start_date`` to the stored field ``aired.from`` and ``end_date`` to ``aired.to``, every other value
  is its own label (the stored field of that name).
* ``app/Features/SearchRequestHandler.php``, ``prepareOrderByParam()``: ``order_by`` is replaced by
  that label.
* ``app/Filters/FilterQueryString.php``, ``_normalizeOrderBy()``, and ``app/Filters/OrderbyClause.php``,
  ``apply()``: the field and ``sort`` go straight to the MongoDB query's ``orderBy(field, sort)``.

So the order is MongoDB's literal sort on the stored value (see :func:`order`).
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any, Iterable

from .responses import ReplayResponse

DEFAULT_LIMIT = 25
MAX_LIMIT = 25

VALIDATION_ERROR_TEXT = (
    "Invalid or incomplete request. Make sure your request is correct. "
    "https://docs.api.jikan.moe/"
)

# ?status=... -> value of the object's "status" field.
STATUS_FILTERS: dict[str, str] = {
    "airing": "Currently Airing",
    "complete": "Finished Airing",
    "upcoming": "Not yet aired",
}

# ?type=... -> lower-cased value of the object's "type" field.  The first six
# are the documented ones; cm/pv/tv_special are also accepted by live Jikan.
TYPE_FILTERS: dict[str, str] = {
    "tv": "tv",
    "movie": "movie",
    "ova": "ova",
    "special": "special",
    "ona": "ona",
    "music": "music",
    "cm": "cm",
    "pv": "pv",
    "tv_special": "tv special",
}

# ?order_by=... -> the stored field (a dotted path) Jikan sorts on: AnimeOrderByEnum's values, each its
# own label but for the two its labels() renames.
_ORDER_BY_VALUES = ("mal_id", "title", "start_date", "end_date", "episodes", "score", "scored_by", "rank",
                    "popularity", "members", "favorites")
_RENAMED_FIELDS = {"start_date": "aired.from", "end_date": "aired.to"}
ORDER_FIELDS: dict[str, str] = {value: _RENAMED_FIELDS.get(value, value) for value in _ORDER_BY_VALUES}

SORT_DIRECTIONS = ("asc", "desc")
# ?order_by= without ?sort=: Jikan's OrderbyClause::normalizeValues() falls back to "asc".
DEFAULT_SORT = "asc"

_INT_RE = re.compile(r"[+-]?\d+")


def stored_value(anime: dict, path: str) -> Any:
    """The value at a dotted field path of an anime object; None where the field is missing."""
    value: Any = anime
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def mongo_sort_key(value: Any) -> tuple:
    """Where MongoDB's ascending sort puts a stored value: null (or missing) first, then numbers, then
    strings, compared by code point (= UTF-8 byte order, MongoDB's default binary collation)."""
    if value is None:
        return (0,)
    if isinstance(value, str):
        return (2, value)
    return (1, value)


def order(items: list[dict], order_by: str, sort: str) -> list[dict]:
    """``items`` in Jikan's order for ``order_by`` and ``sort``: a literal sort on the stored field.

    Nulls are the smallest value, so first for "asc" and last for "desc".  Equal values keep their
    corpus order in both directions (MongoDB leaves ties unspecified; the replay keeps them stable).
    """
    path = ORDER_FIELDS[order_by]
    # Python's sort stays stable with reverse=True: ties keep their corpus order for "desc" too.
    return sorted(items, key=lambda a: mongo_sort_key(stored_value(a, path)), reverse=(sort == "desc"))


def page_of(query: dict[str, str]) -> int | None:
    """The page a request asks for (1 when absent), or None if it is not an int."""
    raw = (query.get("page") or "").strip()
    if raw == "":
        return 1
    return int(raw) if _INT_RE.fullmatch(raw) else None


def _parse_int_param(query: dict[str, str], name: str, default: int, messages: dict[str, list[str]]) -> int | None:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not _INT_RE.fullmatch(raw.strip()):
        messages[name] = [f"The {name} must be an integer."]
        return None
    return int(raw.strip())


class AnimeSearch:
    """Jikan's ``GET /v4/anime`` over one corpus; each (filters, order) result list is computed once.

    ``errors`` are the recorded error bodies: the 400 body is built from the recorded "400_limit".
    Without ``order_by`` the corpus order is kept (no sort: the collection's own order; the project's
    queries always order), and ``sort`` alone changes nothing.
    """

    def __init__(self, corpus: list[dict], errors: dict[str, Any]):
        self.corpus = corpus
        self.errors = errors
        self._lock = threading.Lock()
        self._results_cache: dict[tuple, list[dict]] = {}

    def respond(self, query: dict[str, str]) -> ReplayResponse:
        """The envelope for one page of the query, or Jikan's 400 ValidationException."""
        messages: dict[str, list[str]] = {}

        def choice(name: str, allowed: Iterable[str]) -> str | None:
            raw = query.get(name)
            if raw is None or raw == "":
                return None
            value = raw.strip().lower()
            if value not in allowed:
                messages[name] = [f"The selected {name} is invalid."]
                return None
            return value

        status = choice("status", STATUS_FILTERS)
        type_ = choice("type", TYPE_FILTERS)
        order_by = choice("order_by", ORDER_FIELDS)
        sort = choice("sort", SORT_DIRECTIONS) or DEFAULT_SORT

        page = _parse_int_param(query, "page", 1, messages)
        if page is not None and page < 1:
            messages["page"] = ["The page must be at least 1."]
        limit = _parse_int_param(query, "limit", DEFAULT_LIMIT, messages)
        if limit is not None and limit < 1:
            messages["limit"] = ["The limit must be at least 1."]
        elif limit is not None and limit > MAX_LIMIT:
            messages["limit"] = [self._limit_message(limit)]

        if messages:
            return self._validation_error(messages)
        assert page is not None and limit is not None

        results = self._results(status, type_, order_by, sort)
        total = len(results)
        start = (page - 1) * limit
        data = results[start : start + limit]
        last_visible_page = max(1, math.ceil(total / limit))
        envelope = {
            "pagination": {
                "last_visible_page": last_visible_page,
                "has_next_page": page < last_visible_page,
                "current_page": page,
                "items": {"count": len(data), "total": total, "per_page": limit},
            },
            "data": data,
        }
        return ReplayResponse.json(200, envelope, [a.get("mal_id") for a in data])

    def _validation_error(self, messages: dict[str, list[str]]) -> ReplayResponse:
        template = self.errors.get("400_limit") or {}
        body = {
            "status": template.get("status", 400),
            "type": template.get("type", "ValidationException"),
            "messages": messages,
            "error": template.get("error", VALIDATION_ERROR_TEXT),
        }
        return ReplayResponse.json(400, body)

    def _limit_message(self, value: int) -> str:
        template = self.errors.get("400_limit") or {}
        messages = (template.get("messages") or {}).get("limit") or []
        text = messages[0] if messages else f"Value 50 is higher than the configured '{MAX_LIMIT}' max value."
        return re.sub(r"Value -?\d+ ", f"Value {value} ", text, count=1)

    def _results(self, status: str | None, type_: str | None, order_by: str | None, sort: str) -> list[dict]:
        key = (status, type_, order_by, sort if order_by else None)
        with self._lock:
            cached = self._results_cache.get(key)
        if cached is not None:
            return cached
        items = self.corpus
        if status is not None:
            wanted = STATUS_FILTERS[status]
            items = [a for a in items if a.get("status") == wanted]
        if type_ is not None:
            wanted = TYPE_FILTERS[type_]
            items = [a for a in items if isinstance(a.get("type"), str) and a["type"].lower() == wanted]
        items = list(items)
        if order_by is not None:
            items = order(items, order_by, sort)
        with self._lock:
            self._results_cache[key] = items
        return items
