"""What the replay answers with: ``ReplayResponse``, Jikan's JSON encoding and Jikan's error bodies."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Iterable


def encode_json(obj: Any) -> bytes:
    """Serialise like PHP's json_encode (compact, ASCII-only, escaped "/")."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    # "/" never occurs outside string literals in JSON, and "\/" is a valid
    # escape, so this mirrors Laravel's output byte for byte.
    return text.replace("/", "\\/").encode("ascii")


@dataclass
class ReplayResponse:
    """What the replay sends back for one request.

    ``payload`` is the decoded JSON object when the body is JSON (for code
    that edits the normal response); ``mal_ids`` are the titles it serves; ``reset`` means "close the connection without responding";
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


def error_body(errors: dict[str, Any], status: int) -> dict:
    """Jikan's JSON error body for a status: the recorded one from ``errors`` where there is one."""
    recorded = {
        429: "429_ratelimit_transcribed",
        500: "500_unhandled_recorded",
        504: "504_upstream_transcribed",
    }.get(status)
    if recorded and recorded in errors:
        return copy.deepcopy(errors[recorded])
    if status == 503:
        return {"status": 503, "type": "ServiceUnavailableException", "message": "Service Unavailable", "error": None}
    if status == 404:
        return {"status": 404, "type": "BadResponseException", "message": "Resource does not exist", "error": None}
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"status": status, "type": "HttpException", "message": phrase, "error": None}


def not_found(path: str) -> ReplayResponse:
    """Jikan's 404 for a route it does not have."""
    return ReplayResponse.json(
        404,
        {"status": 404, "type": "BadResponseException", "message": "Resource does not exist", "error": f"404 on {path}"},
    )
