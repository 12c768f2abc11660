"""``ScriptedReplay``: the offline Jikan replay with what tests and benchmarks add to it.

On top of :class:`anime_dashboard.jikan.replay.JikanReplay` it

* records every API request (``replay.log``, ``replay.max_in_flight``);
* applies scripted faults (``replay.script(Fault(...))``, see :mod:`testkit.replay_faults`) in FIFO order,
  optionally only on one page, before the rate limit;
* answers a control API under ``/__replay``, for a client in another process:

``GET /__replay/log``            request log, in-flight counts and the number of pending faults
``POST /__replay/reset``         clear the request log
``GET /__replay/faults``         the pending faults
``POST /__replay/faults``        queue a fault (JSON object) or faults (JSON list), see ``Fault.from_dict``
``POST /__replay/faults/clear``  drop the pending faults

Control requests are not logged, rate limited or faulted.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

from anime_dashboard.jikan.replay import ANIME_PATH, JikanReplay, ReplayResponse
from anime_dashboard.jikan.replay.search import page_of
from anime_dashboard.jikan.replay.server import Exchange

from testkit.replay_faults import Fault, FaultContext, apply_fault

CONTROL_PREFIX = "/__replay"
CONTROL_HEADERS = {"Cache-Control": "no-store"}


class ScriptedReplay(JikanReplay):
    """A replay that records its requests, takes scripted faults and has a control API."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._log: list[dict] = []
        self._open: dict[int, dict] = {}  # id(exchange) -> its log entry, while it is in flight
        self._max_in_flight = 0
        self._faults: list[Fault] = []

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
            return len(self._open)

    def state(self) -> dict:
        """max_in_flight, in_flight, the number of pending faults and a copy of the log, read at once."""
        with self._lock:
            return {
                "max_in_flight": self._max_in_flight,
                "in_flight": len(self._open),
                "pending_faults": len(self._faults),
                "requests": copy.deepcopy(self._log),
            }

    def reset_log(self) -> None:
        """Clear the request log and max_in_flight (faults and rate windows stay)."""
        with self._lock:
            self._log.clear()
            self._max_in_flight = len(self._open)

    def opened(self, exchange: Exchange) -> None:
        is_anime = exchange.method == "GET" and exchange.path.rstrip("/") == ANIME_PATH
        entry = {"path": exchange.path, "query": dict(exchange.query),
                 "page": page_of(exchange.query) if is_anime else None, "status": None,
                 "started": exchange.started, "finished": None, "mal_ids": [], "fault": None}
        with self._lock:
            self._open[id(exchange)] = entry
            self._max_in_flight = max(self._max_in_flight, len(self._open))

    def closed(self, exchange: Exchange) -> None:
        response = exchange.response
        with self._lock:
            entry = self._open.pop(id(exchange))
            if response is not None:
                entry["status"] = None if response.reset else response.status
                entry["mal_ids"] = list(response.mal_ids) if response.status == 200 else []
            entry["fault"] = exchange.tag
            entry["finished"] = time.time()
            self._log.append(entry)

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

    def _take_fault(self, exchange: Exchange) -> Fault | None:
        """The first pending fault for this request's page; only GET /v4/anime takes faults."""
        if exchange.method != "GET" or exchange.path.rstrip("/") != ANIME_PATH:
            return None
        page = page_of(exchange.query)
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(page):
                    return self._faults.pop(index)
        return None

    def answer(self, exchange: Exchange) -> ReplayResponse:
        fault = self._take_fault(exchange)
        if fault is None:
            return super().answer(exchange)
        exchange.tag = fault.kind
        return apply_fault(FaultContext(fault=fault, replay=self, path=exchange.path, query=exchange.query,
                                        normal=lambda: self.respond(exchange.path, exchange.query)))

    # -- the control API ---------------------------------------------------

    def route(self, method: str, path: str, body: bytes) -> ReplayResponse | None:
        if path != CONTROL_PREFIX and not path.startswith(CONTROL_PREFIX + "/"):
            return None
        response = self._control(method, path, body)
        response.headers.update(CONTROL_HEADERS)
        return response

    def _control(self, method: str, path: str, body: bytes) -> ReplayResponse:
        route = path[len(CONTROL_PREFIX):].rstrip("/")
        if method == "GET" and route == "/log":
            return ReplayResponse.json(200, self.state())
        if method == "POST" and route == "/reset":
            self.reset_log()
            return ReplayResponse.json(200, {"ok": True})
        if method == "GET" and route == "/faults":
            return ReplayResponse.json(200, {"faults": [f.to_dict() for f in self.pending_faults]})
        if method == "POST" and route == "/faults":
            try:
                faults = _faults_from_json(body)
            except (ValueError, TypeError) as exc:
                return _control_error(400, str(exc))
            self.script(*faults)
            return ReplayResponse.json(200, {"queued": len(faults), "pending_faults": len(self.pending_faults)})
        if method == "POST" and route == "/faults/clear":
            self.clear_faults()
            return ReplayResponse.json(200, {"ok": True})
        return _control_error(404, f"no control route {method} {path}")


def _faults_from_json(body: bytes) -> list[Fault]:
    specs = json.loads(body.decode("utf-8") or "null")
    if isinstance(specs, dict):
        specs = [specs]
    if not isinstance(specs, list):
        raise ValueError("expected a JSON list of faults")
    return [Fault.from_dict(spec) for spec in specs]


def _control_error(status: int, message: str) -> ReplayResponse:
    return ReplayResponse.json(status, {"status": status, "type": "ReplayControlError", "message": message, "error": None})
