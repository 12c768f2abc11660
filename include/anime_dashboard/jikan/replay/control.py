"""The replay's control API under ``/__replay``, for tests in another process.

``GET /__replay/log``            request log, in-flight counts and the number of pending faults
``POST /__replay/reset``         clear the request log
``GET /__replay/faults``         the pending faults
``POST /__replay/faults``        queue a fault (JSON object) or faults (JSON list), see ``Fault.from_dict``
``POST /__replay/faults/clear``  drop the pending faults

Control requests are not logged, rate limited or faulted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .faults import Fault
from .responses import ReplayResponse

if TYPE_CHECKING:
    from .server import JikanReplay

CONTROL_PREFIX = "/__replay"
CONTROL_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def control_response(replay: "JikanReplay", method: str, path: str, body: bytes) -> ReplayResponse:
    """Carry out one control request on ``replay`` and say how it went."""
    route = path[len(CONTROL_PREFIX) :].rstrip("/")
    if method == "GET" and route == "/log":
        return ReplayResponse.json(200, replay.state())
    if method == "POST" and route == "/reset":
        replay.reset_log()
        return ReplayResponse.json(200, {"ok": True})
    if method == "GET" and route == "/faults":
        return ReplayResponse.json(200, {"faults": [f.to_dict() for f in replay.pending_faults]})
    if method == "POST" and route == "/faults":
        try:
            specs = json.loads(body.decode("utf-8") or "null")
            if isinstance(specs, dict):
                specs = [specs]
            if not isinstance(specs, list):
                raise ValueError("expected a JSON list of faults")
            faults = [Fault.from_dict(spec) for spec in specs]
        except (ValueError, TypeError) as exc:
            return ReplayResponse.json(400, {"status": 400, "type": "ReplayControlError", "message": str(exc), "error": None})
        replay.script(*faults)
        return ReplayResponse.json(200, {"queued": len(faults), "pending_faults": len(replay.pending_faults)})
    if method == "POST" and route == "/faults/clear":
        replay.clear_faults()
        return ReplayResponse.json(200, {"ok": True})
    return ReplayResponse.json(404, {"status": 404, "type": "ReplayControlError", "message": f"no control route {method} {path}", "error": None})
