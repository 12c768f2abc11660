"""Offline stand-in for the Jikan v4 ``/anime`` search endpoint.

``JikanReplay`` serves a bundled corpus of real Jikan anime objects over real
HTTP on loopback, answering ``GET /v4/anime`` the way https://api.jikan.moe/v4
does: the same filters, ordering, validation errors, pagination envelope,
response headers and rate limiting (HTTP 429, no ``Retry-After``).
``JIKAN_OFFLINE=1 make run`` and compose's ``offline`` profile point the DAGs at it.

Only the standard library is used and nothing is read at import time: the
corpus and the recorded error bodies are loaded by the constructor.

Modules: ``data`` (the bundled files), ``search`` (GET /v4/anime: filters,
order, envelope, validation), ``responses`` (response type, JSON encoding,
error bodies), ``limits`` (rate limit), ``server`` (HTTP and ``JikanReplay``),
``cli`` (``python -m anime_dashboard.jikan.replay``).
"""

from .cli import main
from .data import DEFAULT_CORPUS_PATH, ERRORS_PATH
from .limits import SlidingWindowLimiter
from .responses import ReplayResponse
from .search import ORDER_FIELDS, STATUS_FILTERS, TYPE_FILTERS
from .server import ANIME_PATH, JikanReplay

__all__ = [
    "ANIME_PATH",
    "DEFAULT_CORPUS_PATH",
    "ERRORS_PATH",
    "ORDER_FIELDS",
    "STATUS_FILTERS",
    "TYPE_FILTERS",
    "JikanReplay",
    "ReplayResponse",
    "SlidingWindowLimiter",
    "main",
]
