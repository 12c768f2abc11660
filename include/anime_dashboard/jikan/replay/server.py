"""``JikanReplay``: the replay served over real HTTP on loopback, and the HTTP plumbing under it.

Each ``/v4`` request passes the rate limit (or gets Jikan's 429) and is answered by the search.
Subclasses observe requests through :meth:`JikanReplay.opened` / :meth:`JikanReplay.closed`, replace
answers through :meth:`JikanReplay.answer` and serve other paths through :meth:`JikanReplay.route`.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from .data import DEFAULT_CORPUS_PATH, load_corpus, load_errors
from .limits import SlidingWindowLimiter
from .responses import ReplayResponse, error_body, not_found
from .search import AnimeSearch

logger = logging.getLogger(__package__)  # one logger for the whole replay

API_PREFIX = "/v4"
ANIME_PATH = "/v4/anime"


@dataclass
class Exchange:
    """One request to the API as the replay handles it: what came in and, once answered, what goes out."""

    method: str
    path: str
    query: dict[str, str]
    started: float
    response: ReplayResponse | None = None
    tag: str | None = None  # what replaced Jikan's answer, named in the log line


class _ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], replay: "JikanReplay"):
        self.replay = replay
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _ReplayHandler)

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
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


class JikanReplay:
    """A local imitation of the Jikan v4 anime search API: the bundled corpus, Jikan's rate limit and latency."""

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

        self.corpus: list[dict] = load_corpus(self.corpus_path)
        self.errors: dict[str, Any] = load_errors()
        self.search_headers: dict[str, str] = dict(self.errors.get("search_headers") or {})
        self.search_headers.setdefault("Content-Type", "application/json")
        self._search = AnimeSearch(self.corpus, self.errors)

        windows = []
        if rate_per_second is not None:
            windows.append((1.0, int(rate_per_second)))
        if rate_per_minute is not None:
            windows.append((60.0, int(rate_per_minute)))
        self.limiter = SlidingWindowLimiter(windows)

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

    # -- rate limit and error bodies ---------------------------------------

    def reset_rate_limit(self) -> None:
        self.limiter.reset()

    def error_body(self, status: int) -> dict:
        """Default JSON error body for a status (recorded/transcribed where we have one)."""
        return error_body(self.errors, status)

    # -- the API itself ----------------------------------------------------

    def respond(self, path: str, query: dict[str, str]) -> ReplayResponse:
        """The normal (fault-free, rate-limit-free) response for a /v4 request."""
        if path.rstrip("/") == ANIME_PATH:
            return self.search_anime(query)
        return not_found(path)

    def search_anime(self, query: dict[str, str]) -> ReplayResponse:
        """The normal response to ``GET /v4/anime`` with this query."""
        return self._search.respond(query)

    # -- what subclasses change ---------------------------------------------

    def route(self, method: str, path: str, body: bytes) -> ReplayResponse | None:
        """The response to a request outside Jikan's API, or None to serve it as Jikan would."""
        return None

    def answer(self, exchange: Exchange) -> ReplayResponse:
        """Jikan's answer: 429 past the rate limit, else the search for GET and 404 for anything else."""
        if not self.limiter.try_acquire():
            return ReplayResponse.json(429, self.error_body(429))
        if exchange.method != "GET":  # Jikan only does GET: anything else is an unknown route
            return not_found(exchange.path)
        return self.respond(exchange.path, exchange.query)

    def opened(self, exchange: Exchange) -> None:
        """Called as a request arrives."""

    def closed(self, exchange: Exchange) -> None:
        """Called once per request, just before its response goes out (``exchange.response`` is None when
        answering failed): a strictly sequential client never sees two requests open at once."""

    # -- request handling --------------------------------------------------

    def _dispatch(self, handler: _ReplayHandler, method: str) -> None:
        split = urlsplit(handler.path)
        path = split.path or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body = handler.read_body() if method == "POST" else b""
        routed = self.route(method, path, body)
        if routed is not None:
            handler.write_response(routed, {})
        else:
            self._serve_api(handler, Exchange(method, path, query, time.time()))

    def _serve_api(self, handler: _ReplayHandler, exchange: Exchange) -> None:
        self.opened(exchange)
        done = False

        def close() -> None:
            nonlocal done
            done = True
            self.closed(exchange)

        try:
            exchange.response = response = self.answer(exchange)
            if self.latency > 0:
                time.sleep(self.latency)
            if response.reset:
                close()
                handler.reset_connection()
            else:
                handler.write_response(response, self.search_headers, before_send=close)
            logger.info("%s %s -> %s%s (%d items, %.0f ms)", handler.command, handler.path,
                        "reset" if response.reset else response.status,
                        f" [{exchange.tag}]" if exchange.tag else "", len(response.mal_ids),
                        (time.time() - exchange.started) * 1000)
        finally:
            if not done:
                close()
