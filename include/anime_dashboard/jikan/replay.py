"""Offline stand-in for the Jikan v4 ``/anime`` search endpoint.

``JikanReplay`` serves a bundled corpus of real Jikan anime objects over real
HTTP on loopback, answering ``GET /v4/anime`` the way https://api.jikan.moe/v4
does: the same filters, ordering, validation errors, pagination envelope,
response headers and rate limiting (HTTP 429, no ``Retry-After``).

It is meant for tests, benchmarks and offline runs, so on top of that it

* records every API request (``replay.log``, ``replay.max_in_flight``), also
  readable from another process at ``GET /__replay/log``;
* applies scripted faults (``replay.script(Fault(...))`` or
  ``POST /__replay/faults``) in FIFO order, optionally only on one page.
  New fault kinds are added with :func:`register_fault_kind`.

Only the standard library is used and nothing is read at import time: the
corpus and the recorded error bodies are loaded by the constructor.

Command line::

    python -m anime_dashboard.jikan.replay --host 127.0.0.1 --port 8765 \\
        [--rate-per-second 3 --rate-per-minute 60 --latency 0.05]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import re
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "DEFAULT_CORPUS_PATH",
    "ERRORS_PATH",
    "FAULT_KINDS",
    "Fault",
    "FaultContext",
    "JikanReplay",
    "ReplayResponse",
    "SlidingWindowLimiter",
    "main",
    "register_fault_kind",
]

logger = logging.getLogger("anime_dashboard.jikan.replay")

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_CORPUS_PATH = DATA_DIR / "anime.json"
ERRORS_PATH = DATA_DIR / "errors.json"

API_PREFIX = "/v4"
ANIME_PATH = "/v4/anime"
CONTROL_PREFIX = "/__replay"

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


def _aired(anime: dict, key: str) -> Any:
    aired = anime.get("aired")
    return aired.get(key) if isinstance(aired, dict) else None


# ?order_by=... -> sort key extractor (None means "no value": sorted last).
ORDER_FIELDS: dict[str, Callable[[dict], Any]] = {
    "mal_id": lambda a: a.get("mal_id"),
    "title": lambda a: a.get("title"),
    "start_date": lambda a: _aired(a, "from"),
    "end_date": lambda a: _aired(a, "to"),
    "episodes": lambda a: a.get("episodes"),
    "score": lambda a: a.get("score"),
    "scored_by": lambda a: a.get("scored_by"),
    "rank": lambda a: a.get("rank"),
    "popularity": lambda a: a.get("popularity"),
    "members": lambda a: a.get("members"),
    "favorites": lambda a: a.get("favorites"),
}

SORT_DIRECTIONS = ("asc", "desc")
DEFAULT_SORT = "desc"

_INT_RE = re.compile(r"[+-]?\d+")


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------


def encode_json(obj: Any) -> bytes:
    """Serialise like PHP's json_encode (compact, ASCII-only, escaped "/")."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    # "/" never occurs outside string literals in JSON, and "\/" is a valid
    # escape, so this mirrors Laravel's output byte for byte.
    return text.replace("/", "\\/").encode("ascii")


@dataclass
class ReplayResponse:
    """What the replay sends back for one request.

    ``payload`` is the decoded JSON object when the body is JSON (used by
    fault kinds that edit the normal response); ``mal_ids`` is what gets
    logged; ``reset`` means "close the connection without responding";
    ``declared_length`` is the Content-Length to announce instead of
    ``len(body)``: when it is larger, the connection is closed once the
    shorter body is sent (a transfer cut off mid-body).
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    mal_ids: list[int] = field(default_factory=list)
    payload: Any = None
    reset: bool = False
    declared_length: int | None = None

    @classmethod
    def json(cls, status: int, payload: Any, mal_ids: Iterable[int] = ()) -> "ReplayResponse":
        return cls(
            status=int(status),
            body=encode_json(payload),
            headers={"Content-Type": "application/json"},
            mal_ids=list(mal_ids),
            payload=payload,
        )


def _data_mal_ids(payload: Any) -> list[int]:
    """mal_ids of the objects in an envelope's ``data`` list (best effort)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        return []
    ids = []
    for item in payload["data"]:
        if isinstance(item, dict) and isinstance(item.get("mal_id"), int):
            ids.append(item["mal_id"])
    return ids


# --------------------------------------------------------------------------
# Rate limiting
# --------------------------------------------------------------------------


class SlidingWindowLimiter:
    """Sliding-window limiter over any number of (seconds, max_requests) windows.

    ``try_acquire`` admits a request only if every window still has room and
    then records it in all windows; rejected requests are not recorded.
    """

    def __init__(self, windows: Iterable[tuple[float, int]], clock: Callable[[], float] = time.monotonic):
        self._windows = [(float(span), int(limit)) for span, limit in windows]
        self._stamps: list[deque[float]] = [deque() for _ in self._windows]
        self._clock = clock
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            now = self._clock()
            for (span, limit), stamps in zip(self._windows, self._stamps):
                while stamps and stamps[0] <= now - span:
                    stamps.popleft()
                if len(stamps) >= limit:
                    return False
            for stamps in self._stamps:
                stamps.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            for stamps in self._stamps:
                stamps.clear()


# --------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted misbehaviour, consumed by the next matching /v4/anime request.

    kind        name of a registered fault kind (see ``FAULT_KINDS``)
    status      HTTP status: required for "status"; for other kinds it
                overrides the status they would send
    body        JSON body override ("status", "error_body_200") or HTML text
                override ("not_json")
    headers     extra response headers, e.g. {"Retry-After": "2"}
    delay       seconds to sleep before acting (any kind; "delay" only sleeps)
    match_page  only a request for this page takes the fault (None = any page)
    mutate      for kind "mutate": callable(envelope_dict) -> envelope_dict
    """

    kind: str
    status: int | None = None
    body: Any = None
    headers: dict[str, str] | None = None
    delay: float = 0.0
    match_page: int | None = None
    mutate: Callable[[dict], dict] | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(FAULT_KINDS)}")
        if self.kind == "status" and self.status is None:
            raise ValueError("a 'status' fault needs a status")
        if self.kind == "mutate" and not callable(self.mutate):
            raise ValueError("a 'mutate' fault needs a callable mutate=")
        if self.status is not None:
            self.status = int(self.status)
        if self.match_page is not None:
            self.match_page = int(self.match_page)
        self.delay = float(self.delay or 0.0)
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.headers is not None:
            self.headers = {str(k): str(v) for k, v in dict(self.headers).items()}

    def matches(self, page: int | None) -> bool:
        return self.match_page is None or self.match_page == page

    _HTTP_FIELDS = ("kind", "status", "body", "headers", "delay", "match_page")

    @classmethod
    def from_dict(cls, spec: dict) -> "Fault":
        """Build a fault from its JSON form (no ``mutate`` over HTTP)."""
        if not isinstance(spec, dict):
            raise ValueError("each fault must be a JSON object")
        unknown = set(spec) - set(cls._HTTP_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault field(s): {sorted(unknown)}")
        if spec.get("kind") == "mutate":
            raise ValueError("'mutate' faults need a Python callable and cannot be sent over HTTP")
        if "kind" not in spec:
            raise ValueError("a fault needs a kind")
        return cls(**{k: spec[k] for k in cls._HTTP_FIELDS if k in spec and spec[k] is not None})

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "status": self.status,
            "body": self.body,
            "headers": self.headers,
            "delay": self.delay,
            "match_page": self.match_page,
            "mutate": None if self.mutate is None else getattr(self.mutate, "__name__", repr(self.mutate)),
        }


@dataclass
class FaultContext:
    """What a fault handler gets: the fault, the replay, and a way to build
    the response the request would normally have received."""

    fault: Fault
    replay: "JikanReplay"
    path: str
    query: dict[str, str]
    normal: Callable[[], ReplayResponse]


FaultHandler = Callable[[FaultContext], ReplayResponse]
FAULT_KINDS: dict[str, FaultHandler] = {}


def register_fault_kind(kind: str) -> Callable[[FaultHandler], FaultHandler]:
    """Register ``handler(ctx) -> ReplayResponse`` as the fault kind ``kind``.

    The generic parts (``delay``, ``status`` override for non-"status" kinds,
    extra ``headers``, logging) are applied by the replay around the handler.
    """

    def decorator(handler: FaultHandler) -> FaultHandler:
        FAULT_KINDS[kind] = handler
        return handler

    return decorator


@register_fault_kind("status")
def _fault_status(ctx: FaultContext) -> ReplayResponse:
    status = int(ctx.fault.status)  # validated non-None in Fault
    body = ctx.fault.body if ctx.fault.body is not None else ctx.replay.error_body(status)
    return ReplayResponse.json(status, body)


@register_fault_kind("error_body_200")
def _fault_error_body_200(ctx: FaultContext) -> ReplayResponse:
    body = ctx.fault.body if ctx.fault.body is not None else ctx.replay.error_body(504)
    return ReplayResponse.json(200, body)


@register_fault_kind("truncated")
def _fault_truncated(ctx: FaultContext) -> ReplayResponse:
    normal = ctx.normal()
    cut = normal.body[: len(normal.body) // 2]
    # Nothing usable reached the client, so no mal_ids are logged as served.
    return ReplayResponse(status=normal.status, body=cut, headers=dict(normal.headers))


@register_fault_kind("truncated_transfer")
def _fault_truncated_transfer(ctx: FaultContext) -> ReplayResponse:
    # The headers announce the whole body, half of it is sent, then the connection closes: what a
    # proxy or a dying upstream does mid-response (the client sees an incomplete read, not bad JSON).
    normal = ctx.normal()
    return ReplayResponse(status=normal.status, body=normal.body[: len(normal.body) // 2],
                          headers=dict(normal.headers), declared_length=len(normal.body))


@register_fault_kind("not_json")
def _fault_not_json(ctx: FaultContext) -> ReplayResponse:
    text = ctx.fault.body if isinstance(ctx.fault.body, str) else "<html>Bad gateway</html>"
    return ReplayResponse(status=200, body=text.encode("utf-8"), headers={"Content-Type": "text/html"})


@register_fault_kind("delay")
def _fault_delay(ctx: FaultContext) -> ReplayResponse:
    # The sleep itself is the generic Fault.delay, applied before the handler.
    return ctx.normal()


@register_fault_kind("reset")
def _fault_reset(ctx: FaultContext) -> ReplayResponse:
    return ReplayResponse(status=0, reset=True)


@register_fault_kind("mutate")
def _fault_mutate(ctx: FaultContext) -> ReplayResponse:
    normal = ctx.normal()
    envelope = copy.deepcopy(normal.payload)  # never let a hook edit the corpus
    edited = ctx.fault.mutate(envelope)
    if edited is None:  # tolerate hooks that edit in place and return nothing
        edited = envelope
    return ReplayResponse.json(normal.status, edited, _data_mal_ids(edited))


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------


class _ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], replay: "JikanReplay"):
        self.replay = replay
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _ReplayHandler)

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            logger.debug("connection from %s ended: %r", client_address, exc)
            return
        logger.exception("error while handling a request from %s", client_address)


class _ReplayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after this
    server: _ReplayHTTPServer

    # -- connection tracking so stop() can drop idle keep-alive sockets --
    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s - " + format, self.address_string(), *args)

    # -- methods --
    def do_GET(self) -> None:  # noqa: N802
        self.server.replay._dispatch(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.server.replay._dispatch(self, "POST")

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def write_response(self, response: ReplayResponse, base_headers: dict[str, str], before_send: Callable[[], None] | None = None) -> None:
        """Write status line, headers and body in one send."""
        headers: dict[str, str] = {}
        lower_index: dict[str, str] = {}

        def put(name: str, value: str) -> None:
            old = lower_index.get(name.lower())
            if old is not None:
                del headers[old]
            headers[name] = value
            lower_index[name.lower()] = name

        for name, value in base_headers.items():
            put(name, value)
        for name, value in response.headers.items():
            put(name, value)
        declared = response.declared_length if response.declared_length is not None else len(response.body)
        put("Content-Length", str(declared))
        put("Date", formatdate(usegmt=True))
        if self.close_connection:
            put("Connection", "close")
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        lines = [f"{self.protocol_version} {response.status} {phrase}".rstrip()]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if before_send is not None:
            before_send()
        try:
            self.wfile.write(head + response.body)
            self.wfile.flush()
        except OSError as exc:
            logger.debug("client went away before the response was written: %r", exc)
            self.close_connection = True
        if declared > len(response.body):  # cut off mid-body: the rest never comes
            self.reset_connection()

    def reset_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --------------------------------------------------------------------------
# The replay server
# --------------------------------------------------------------------------


class JikanReplay:
    """A local, scriptable imitation of the Jikan v4 anime search API."""

    def __init__(
        self,
        corpus_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_per_second: int | None = 3,
        rate_per_minute: int | None = 60,
        latency: float = 0.05,
    ):
        self.corpus_path = Path(corpus_path) if corpus_path is not None else DEFAULT_CORPUS_PATH
        self.host = host
        self.port = int(port)
        self.rate_per_second = rate_per_second
        self.rate_per_minute = rate_per_minute
        self.latency = float(latency or 0.0)

        with open(self.corpus_path, encoding="utf-8") as fh:
            corpus = json.load(fh)
        if isinstance(corpus, dict) and isinstance(corpus.get("data"), list):
            corpus = corpus["data"]  # accept a saved Jikan envelope too
        if not isinstance(corpus, list):
            raise ValueError(f"{self.corpus_path}: expected a JSON list of anime objects")
        self.corpus: list[dict] = corpus
        with open(ERRORS_PATH, encoding="utf-8") as fh:
            self.errors: dict[str, Any] = json.load(fh)
        self.search_headers: dict[str, str] = dict(self.errors.get("search_headers") or {})
        self.search_headers.setdefault("Content-Type", "application/json")

        windows = []
        if rate_per_second is not None:
            windows.append((1.0, int(rate_per_second)))
        if rate_per_minute is not None:
            windows.append((60.0, int(rate_per_minute)))
        self.limiter = SlidingWindowLimiter(windows)

        self._lock = threading.Lock()
        self._log: list[dict] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._faults: list[Fault] = []
        self._results_cache: dict[tuple, list[dict]] = {}

        self._server: _ReplayHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base url (…/v4)."""
        if self._server is not None:
            return self.base_url
        server = _ReplayHTTPServer((self.host, self.port), self)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"jikan-replay:{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Jikan replay listening on %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = None
        self._thread = None
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            conns = list(server.connections)
        for conn in conns:  # drop idle keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "JikanReplay":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}{API_PREFIX}"

    # -- observation -------------------------------------------------------

    @property
    def log(self) -> list[dict]:
        """A copy of the request log (one dict per /v4 request, in write order)."""
        with self._lock:
            return copy.deepcopy(self._log)

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def reset_log(self) -> None:
        """Clear the request log and max_in_flight (faults and rate windows stay)."""
        with self._lock:
            self._log.clear()
            self._max_in_flight = self._in_flight

    def reset_rate_limit(self) -> None:
        self.limiter.reset()

    # -- faults ------------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        """Queue faults (FIFO) for upcoming /v4/anime requests."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"expected Fault, got {type(fault).__name__}")
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, page: int | None) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(page):
                    return self._faults.pop(index)
        return None

    def error_body(self, status: int) -> dict:
        """Default JSON error body for a status (recorded/transcribed where we have one)."""
        recorded = {
            429: "429_ratelimit_transcribed",
            500: "500_unhandled_recorded",
            504: "504_upstream_transcribed",
        }.get(status)
        if recorded and recorded in self.errors:
            return copy.deepcopy(self.errors[recorded])
        if status == 503:
            return {"status": 503, "type": "ServiceUnavailableException", "message": "Service Unavailable", "error": None}
        if status == 404:
            return {"status": 404, "type": "BadResponseException", "message": "Resource does not exist", "error": None}
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return {"status": status, "type": "HttpException", "message": phrase, "error": None}

    # -- the API itself ----------------------------------------------------

    def respond(self, path: str, query: dict[str, str]) -> ReplayResponse:
        """The normal (fault-free, rate-limit-free) response for a /v4 request."""
        if path.rstrip("/") == ANIME_PATH:
            return self.search_anime(query)
        return self.not_found(path)

    def not_found(self, path: str) -> ReplayResponse:
        return ReplayResponse.json(
            404,
            {"status": 404, "type": "BadResponseException", "message": "Resource does not exist", "error": f"404 on {path}"},
        )

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

    def search_anime(self, query: dict[str, str]) -> ReplayResponse:
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
            items = _order(items, ORDER_FIELDS[order_by], descending=(sort == "desc"))
        with self._lock:
            self._results_cache[key] = items
        return items

    # -- request handling --------------------------------------------------

    def _dispatch(self, handler: _ReplayHandler, method: str) -> None:
        split = urlsplit(handler.path)
        path = split.path or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body = handler.read_body() if method == "POST" else b""
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._control(handler, method, path, body)
        elif method == "GET":
            self._serve_api(handler, path, query)
        else:
            # Jikan only does GET; answer anything else like an unknown route.
            self._serve_api(handler, path, query, force_not_found=True)

    def _serve_api(self, handler: _ReplayHandler, path: str, query: dict[str, str], force_not_found: bool = False) -> None:
        started = time.time()
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        entry: dict[str, Any] = {
            "path": path,
            "query": dict(query),
            "page": None,
            "status": None,
            "started": started,
            "finished": None,
            "mal_ids": [],
            "fault": None,
        }
        left = [False]  # set once this request stopped counting as in flight
        try:
            is_anime = not force_not_found and path.rstrip("/") == ANIME_PATH
            if is_anime:
                entry["page"] = _page_of(query)
            fault = self._take_fault(entry["page"]) if is_anime else None
            if fault is not None:
                entry["fault"] = fault.kind
                response = self._apply_fault(fault, path, query)
            elif not self.limiter.try_acquire():
                response = ReplayResponse.json(429, self.error_body(429))
            elif force_not_found:
                response = self.not_found(path)
            else:
                response = self.respond(path, query)

            if self.latency > 0:
                time.sleep(self.latency)

            entry["status"] = response.status if not response.reset else None
            entry["mal_ids"] = list(response.mal_ids) if response.status == 200 else []

            def record() -> None:
                # Logged, and no longer in flight, just before the bytes go out: a client that has
                # its response can already see the entry, and a strictly sequential client (next
                # request only after the last response) can never be counted as two in flight.
                entry["finished"] = time.time()
                with self._lock:
                    self._log.append(entry)
                    self._in_flight -= 1
                    left[0] = True

            if response.reset:
                record()
                handler.reset_connection()
            else:
                handler.write_response(response, self.search_headers, before_send=record)
            logger.info(
                "%s %s -> %s%s (%d items, %.0f ms)",
                handler.command,
                handler.path,
                "reset" if response.reset else response.status,
                f" [fault={fault.kind}]" if fault is not None else "",
                len(entry["mal_ids"]),
                (entry["finished"] - started) * 1000,
            )
        finally:
            if entry["finished"] is None:  # failed before recording
                entry["finished"] = time.time()
                with self._lock:
                    self._log.append(entry)
            if not left[0]:
                with self._lock:
                    self._in_flight -= 1

    def _apply_fault(self, fault: Fault, path: str, query: dict[str, str]) -> ReplayResponse:
        if fault.delay > 0:
            time.sleep(fault.delay)
        ctx = FaultContext(fault=fault, replay=self, path=path, query=query, normal=lambda: self.respond(path, query))
        response = FAULT_KINDS[fault.kind](ctx)
        if response.reset:
            return response
        if fault.kind != "status" and fault.status is not None:
            response.status = fault.status
        if fault.headers:
            response.headers = {**response.headers, **fault.headers}
        return response

    def _control(self, handler: _ReplayHandler, method: str, path: str, body: bytes) -> None:
        route = path[len(CONTROL_PREFIX) :].rstrip("/")
        if method == "GET" and route == "/log":
            with self._lock:
                payload = {
                    "max_in_flight": self._max_in_flight,
                    "in_flight": self._in_flight,
                    "pending_faults": len(self._faults),
                    "requests": copy.deepcopy(self._log),
                }
            response = ReplayResponse.json(200, payload)
        elif method == "POST" and route == "/reset":
            self.reset_log()
            response = ReplayResponse.json(200, {"ok": True})
        elif method == "GET" and route == "/faults":
            response = ReplayResponse.json(200, {"faults": [f.to_dict() for f in self.pending_faults]})
        elif method == "POST" and route == "/faults":
            try:
                specs = json.loads(body.decode("utf-8") or "null")
                if isinstance(specs, dict):
                    specs = [specs]
                if not isinstance(specs, list):
                    raise ValueError("expected a JSON list of faults")
                faults = [Fault.from_dict(spec) for spec in specs]
            except (ValueError, TypeError) as exc:
                response = ReplayResponse.json(400, {"status": 400, "type": "ReplayControlError", "message": str(exc), "error": None})
            else:
                self.script(*faults)
                response = ReplayResponse.json(200, {"queued": len(faults), "pending_faults": len(self.pending_faults)})
        elif method == "POST" and route == "/faults/clear":
            self.clear_faults()
            response = ReplayResponse.json(200, {"ok": True})
        else:
            response = ReplayResponse.json(404, {"status": 404, "type": "ReplayControlError", "message": f"no control route {method} {path}", "error": None})
        handler.write_response(response, {"Content-Type": "application/json", "Cache-Control": "no-store"})


def _parse_int_param(query: dict[str, str], name: str, default: int, messages: dict[str, list[str]]) -> int | None:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not _INT_RE.fullmatch(raw.strip()):
        messages[name] = [f"The {name} must be an integer."]
        return None
    return int(raw.strip())


def _page_of(query: dict[str, str]) -> int | None:
    """The page a request asks for (1 when absent), or None if it is not an int."""
    raw = (query.get("page") or "").strip()
    if raw == "":
        return 1
    return int(raw) if _INT_RE.fullmatch(raw) else None


def _order(items: list[dict], key: Callable[[dict], Any], descending: bool) -> list[dict]:
    """Sort by key; nulls last in both directions; ties by mal_id ascending."""
    by_id = sorted(items, key=lambda a: (a.get("mal_id") is None, a.get("mal_id") or 0))
    present = [a for a in by_id if key(a) is not None]
    missing = [a for a in by_id if key(a) is None]
    # Python's sort is stable even with reverse=True, so the mal_id order
    # survives as the tie-breaker.
    present.sort(key=key, reverse=descending)
    return present + missing


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _optional_int(text: str) -> int | None:
    if text.strip().lower() in {"", "none", "off", "0"}:
        return None
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m anime_dashboard.jikan.replay",
        description="Serve the bundled Jikan v4 anime corpus over HTTP, like https://api.jikan.moe/v4.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--rate-per-second", type=_optional_int, default=3, help="0/none disables the window")
    parser.add_argument("--rate-per-minute", type=_optional_int, default=60, help="0/none disables the window")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each response is delayed")
    parser.add_argument("--corpus", default=None, help="JSON list of anime objects (default: bundled corpus)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop_requested = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop_requested.set()

    # Handle both explicitly: a shell starts background jobs with SIGINT
    # ignored, and Ctrl-C should still stop the server cleanly.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    replay = JikanReplay(
        corpus_path=args.corpus,
        host=args.host,
        port=args.port,
        rate_per_second=args.rate_per_second,
        rate_per_minute=args.rate_per_minute,
        latency=args.latency,
    )
    replay.start()
    print(f"Jikan replay serving {replay.base_url}", flush=True)
    try:
        while not stop_requested.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        logger.info("shutting down")
        replay.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
