"""The prerequisite check's one request to Jikan: out of reach is a problem said in seconds, with the URL,
the error and JIKAN_OFFLINE=1; slow, rate-limited or failing is only a note (the DAGs retry those)."""
from __future__ import annotations

import json
import socket
import time

import pytest

from anime_dashboard.jikan.preflight import check_jikan, configured_url
from testkit.ports import free_port
from testkit.replay_faults import Fault


class NoLimit:
    def __init__(self):
        self.waits = 0

    def wait(self):
        self.waits += 1


def test_the_url_is_the_jikan_default_connections_anime_endpoint():
    assert configured_url('{"conn_type": "http", "host": "api.jikan.moe", "schema": "https"}') == \
        "https://api.jikan.moe/v4/anime"
    assert configured_url(json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 8765, "schema": "http"})) \
        == "http://127.0.0.1:8765/v4/anime"
    assert configured_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000/v4/anime"


def test_a_host_that_cannot_be_resolved_is_a_problem_naming_the_url_and_the_offline_replay(monkeypatch):
    def unresolvable(*args, **kwargs):  # what the resolver says for a name it cannot find, without asking one
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    limiter = NoLimit()
    started = time.monotonic()
    problem, _ = check_jikan("https://api.jikan.moe/v4/anime", limiter=limiter)
    assert time.monotonic() - started < 2
    assert problem.startswith("Jikan at https://api.jikan.moe/v4/anime: its host cannot be resolved")
    assert "NameResolutionError" in problem and "JIKAN_OFFLINE=1" in problem
    assert limiter.waits == 1  # through the shared limiter, like every Jikan call


def test_a_port_nothing_listens_on_is_a_problem_said_at_once():
    url = f"http://127.0.0.1:{free_port()}/v4/anime"
    started = time.monotonic()
    problem, _ = check_jikan(url, limiter=NoLimit())
    assert time.monotonic() - started < 2
    assert problem.startswith(f"Jikan at {url}: it cannot be reached") and "Connection refused" in problem


@pytest.mark.parametrize("status, said", [(429, "rate limited"), (503, "an outage?")])
def test_a_rate_limited_or_failing_jikan_is_a_note_not_a_problem(replay, status, said):
    replay.script(Fault(kind="status", status=status))
    problem, seen = check_jikan(f"{replay.base_url}/anime", limiter=NoLimit())
    assert problem is None
    assert f"answered {status}" in seen and said in seen
    assert [e["query"].get("limit") for e in replay.log if e["path"] == "/v4/anime"] == ["1"]


def test_a_slow_jikan_is_a_note_not_a_problem(replay, monkeypatch):
    monkeypatch.setattr("anime_dashboard.jikan.preflight.READ_SECONDS", 0.3)
    replay.script(Fault(kind="delay", delay=1.0))
    problem, seen = check_jikan(f"{replay.base_url}/anime", limiter=NoLimit())
    assert problem is None and "is slow" in seen


def test_a_reachable_jikan_is_reported_with_its_status(replay):
    problem, seen = check_jikan(f"{replay.base_url}/anime", limiter=NoLimit())
    assert problem is None and seen.startswith(f"Jikan reachable at {replay.base_url}/anime (HTTP 200")
