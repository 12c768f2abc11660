"""Scripted misbehaviour: ``Fault``, the registry of fault kinds and the kinds themselves.

A fault is queued on a :class:`testkit.replay.ScriptedReplay` (``replay.script(Fault(...))`` or
``POST /__replay/faults``) and taken by the next matching ``/v4/anime`` request, which then gets
:func:`apply_fault`'s response instead of the normal one.  New kinds are added with :func:`register_fault_kind`.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Callable

from anime_dashboard.jikan.replay import JikanReplay, ReplayResponse


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
    replay: JikanReplay
    path: str
    query: dict[str, str]
    normal: Callable[[], ReplayResponse]


FaultHandler = Callable[[FaultContext], ReplayResponse]
FAULT_KINDS: dict[str, FaultHandler] = {}


def register_fault_kind(kind: str) -> Callable[[FaultHandler], FaultHandler]:
    """Register ``handler(ctx) -> ReplayResponse`` as the fault kind ``kind``.

    The generic parts (``delay``, ``status`` override for non-"status" kinds,
    extra ``headers``) are applied by :func:`apply_fault` around the handler.
    """

    def decorator(handler: FaultHandler) -> FaultHandler:
        FAULT_KINDS[kind] = handler
        return handler

    return decorator


def apply_fault(ctx: FaultContext) -> ReplayResponse:
    """The response a fault gives: its delay, its kind's handler, then its status override and headers."""
    fault = ctx.fault
    if fault.delay > 0:
        time.sleep(fault.delay)
    response = FAULT_KINDS[fault.kind](ctx)
    if response.reset:
        return response
    if fault.kind != "status" and fault.status is not None:
        response.status = fault.status
    if fault.headers:
        response.headers = {**response.headers, **fault.headers}
    return response


def _data_mal_ids(payload: Any) -> list[int]:
    """mal_ids of the objects in an envelope's ``data`` list (best effort)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        return []
    ids = []
    for item in payload["data"]:
        if isinstance(item, dict) and isinstance(item.get("mal_id"), int):
            ids.append(item["mal_id"])
    return ids


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
