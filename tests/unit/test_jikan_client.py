"""The Jikan client against the offline replay over real HTTP: paging, retries, back-off, give-up, and
its rate windows in the real Redis."""
from __future__ import annotations

import os

import pytest

from anime_dashboard.jikan.client import (
    JikanClient, JikanRequestError, is_error_body, parse_retry_after)
from testkit.replay_faults import Fault
from anime_dashboard.settings import JikanSettings

TOP = {"status": "complete", "order_by": "score", "sort": "desc"}
UPCOMING = {"status": "upcoming", "order_by": "popularity", "sort": "desc"}


class RecordingSleep:
    """Real sleeps (kept short by the settings) that also remember how long each was."""

    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        import time

        self.calls.append(seconds)
        time.sleep(min(seconds, 0.05))


def make_client(**overrides) -> tuple[JikanClient, RecordingSleep]:
    """A client with short back-offs and, unless the test asks for them, no rate windows."""
    settings = dict(min_interval=0.0, max_attempts=4, backoff_base=0.05, backoff_max=30.0, timeout=2.0,
                    redis_url=os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0"))
    settings.update(overrides)
    sleep = RecordingSleep()
    return JikanClient(settings=JikanSettings(**settings), sleep=sleep), sleep


def anime_requests(replay):
    return [e for e in replay.log if e["path"] == "/v4/anime"]


def test_paging_follows_has_next_page_until_it_is_false(replay):
    client, _ = make_client()
    pages = list(client.iter_anime_pages(UPCOMING, max_pages=10))
    # the corpus has 25 upcoming titles: exactly one full page, has_next_page false on it
    assert [p.page for p in pages] == [1]
    assert len(pages[0].data) == 25 and pages[0].has_next_page is False
    assert len(anime_requests(replay)) == 1


def test_paging_stops_at_the_page_cap(replay):
    client, _ = make_client()
    pages = list(client.iter_anime_pages(TOP, max_pages=3))
    assert [p.page for p in pages] == [1, 2, 3]
    assert pages[-1].has_next_page is True  # more existed; the cap stopped us
    assert [e["page"] for e in anime_requests(replay)] == [1, 2, 3]
    assert all(e["query"]["limit"] == "25" for e in anime_requests(replay))
    assert client.stats.pages == 3 and client.stats.requests == 3 and client.stats.retries == 0


def test_429_then_success_is_retried_and_counted(replay):
    replay.script(Fault(kind="status", status=429), Fault(kind="status", status=429))
    client, sleep = make_client()
    pages = list(client.iter_anime_pages(UPCOMING, max_pages=1))
    assert len(pages[0].data) == 25
    assert [e["status"] for e in anime_requests(replay)] == [429, 429, 200]
    assert client.stats.rate_limited == 2 and client.stats.retries == 2 and client.stats.requests == 3
    assert len(sleep.calls) == 2 and sleep.calls[1] > sleep.calls[0] * 0.5  # backs off on its own


@pytest.mark.parametrize("status", [500, 503, 504])
def test_5xx_then_success_is_retried(replay, status):
    replay.script(Fault(kind="status", status=status))
    client, _ = make_client()
    pages = list(client.iter_anime_pages(UPCOMING, max_pages=1))
    assert len(pages[0].data) == 25
    assert [e["status"] for e in anime_requests(replay)] == [status, 200]
    assert client.stats.retries == 1 and client.stats.rate_limited == 0


def test_retry_after_is_honoured_when_sent(replay):
    replay.script(Fault(kind="status", status=429, headers={"Retry-After": "7"}))
    client, sleep = make_client()
    list(client.iter_anime_pages(UPCOMING, max_pages=1))
    assert sleep.calls[0] == 7.0  # the server's wait, not our (0.05 s) back-off


def test_backoff_grows_exponentially_without_retry_after(replay):
    replay.script(*[Fault(kind="status", status=429) for _ in range(3)])
    client, sleep = make_client(backoff_base=1.0, max_attempts=5)
    list(client.iter_anime_pages(UPCOMING, max_pages=1))
    # equal jitter: each wait lies in [b/2, b] for b = 1, 2, 4
    for wait, base in zip(sleep.calls, [1, 2, 4]):
        assert base / 2 <= wait <= base


def test_gives_up_with_a_clear_error_naming_url_status_and_message(replay):
    replay.script(*[Fault(kind="status", status=504) for _ in range(3)])
    client, _ = make_client(max_attempts=3)
    with pytest.raises(JikanRequestError) as info:
        list(client.iter_anime_pages(UPCOMING, max_pages=1))
    text = str(info.value)
    assert "/v4/anime?" in text and "status=upcoming" in text
    assert "504" in text and "gave up after 3 attempts" in text
    assert "Jikan failed to connect to MyAnimeList" in text  # Jikan's own `message`
    assert len(anime_requests(replay)) == 3


def test_giving_up_reports_the_requests_retries_and_429s_it_made(replay):
    # nothing reaches raw when an extract gives up: the error (and its .stats) is where they show
    replay.script(*[Fault(kind="status", status=429, match_page=2) for _ in range(3)])
    client, _ = make_client(max_attempts=3)
    with pytest.raises(JikanRequestError) as info:
        list(client.iter_anime_pages(TOP, max_pages=3))
    assert info.value.stats == {"requests": 4, "retries": 2, "rate_limited": 3, "pages": 1}
    assert "page=2" in str(info.value)
    assert "this extract so far: 4 requests, 2 retries, 3 rate limited (429), 1 pages" in str(info.value)


def test_a_400_is_not_retried_and_shows_jikans_messages(replay):
    client, _ = make_client()
    with pytest.raises(JikanRequestError) as info:
        client.get("v4/anime", {"limit": 26})
    assert info.value.status == 400
    assert "ValidationException" in str(info.value) and "26" in str(info.value)
    assert len(anime_requests(replay)) == 1
    assert info.value.stats == {"requests": 1, "retries": 0, "rate_limited": 0, "pages": 0}


def test_a_200_error_body_is_retried(replay):
    replay.script(Fault(kind="error_body_200"))
    client, _ = make_client()
    pages = list(client.iter_anime_pages(UPCOMING, max_pages=1))
    assert len(pages[0].data) == 25
    assert [e["fault"] for e in anime_requests(replay)] == ["error_body_200", None]
    assert client.stats.retries == 1


def test_a_connection_that_never_answers_gives_up_naming_the_full_url(monkeypatch):
    import json
    import socket

    with socket.socket() as closed:  # a port with nothing listening
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_JIKAN_DEFAULT",
                       json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http"}))
    client, _ = make_client(max_attempts=2)
    with pytest.raises(JikanRequestError) as info:
        list(client.iter_anime_pages(UPCOMING, max_pages=1))
    assert "status=upcoming" in str(info.value) and "no response" in str(info.value)
    assert "ConnectionError" in str(info.value) and client.stats.requests == 2


@pytest.mark.parametrize("kind", ["truncated", "truncated_transfer", "not_json", "reset"])
def test_broken_responses_are_retried(replay, kind):
    replay.script(Fault(kind=kind))
    client, _ = make_client()
    pages = list(client.iter_anime_pages(UPCOMING, max_pages=1))
    assert len(pages[0].data) == 25 and client.stats.retries == 1


def test_a_read_timeout_is_retried(replay):
    replay.script(Fault(kind="delay", delay=1.5))
    client, _ = make_client(timeout=0.5)
    pages = list(client.iter_anime_pages(UPCOMING, max_pages=1))
    assert len(pages[0].data) == 25 and client.stats.retries == 1


@pytest.mark.timing  # gaps measured at the replay: the other workers' load shortens or stretches them
def test_requests_are_paced_by_the_minimum_interval(replay):
    client, _ = make_client(min_interval=0.3)
    list(client.iter_anime_pages(TOP, max_pages=3))
    starts = [e["started"] for e in anime_requests(replay)]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.28, gaps


@pytest.mark.timing
def test_the_window_limiter_keeps_a_client_under_jikans_limit(replay, jikan_limiter_key):
    # the production windows (2 starts in any 1 s, 58 in any 60 s) in Redis; the replay enforces 3/s
    client, _ = make_client(per_second=2, per_minute=58, limiter_key=jikan_limiter_key)
    list(client.iter_anime_pages(TOP, max_pages=6))
    assert [e["status"] for e in anime_requests(replay)] == [200] * 6
    assert client.stats.rate_limited == 0 and client.limiter.backend == "redis"
    starts = [e["started"] for e in anime_requests(replay)]
    # two at once, then each pair waits for the previous pair to leave the 1 s window
    assert starts[2] - starts[0] >= 0.95 and starts[4] - starts[2] >= 0.95, starts
    assert starts[1] - starts[0] < 0.5, "the limiter spent the window's room on a fixed interval"


@pytest.mark.timing
def test_without_a_limiter_the_same_burst_is_refused(replay):
    # the control for the test above: the replay really refuses a 4th start within 1 s
    client, _ = make_client(max_attempts=1)
    with pytest.raises(JikanRequestError):
        for page in range(1, 7):
            client.get("v4/anime", {**TOP, "page": page, "limit": 25})
    assert [e["status"] for e in anime_requests(replay)][-1] == 429


def test_retry_after_parses_seconds_and_http_dates():
    from datetime import datetime, timezone

    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after("Tue, 24 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None


def test_error_objects_are_told_from_envelopes():
    assert is_error_body({"status": "429", "type": "RateLimitException", "message": "x", "error": None})
    assert not is_error_body({"pagination": {}, "data": []})


@pytest.mark.timing
def test_back_to_back_clients_share_the_windows_through_redis(replay, jikan_limiter_key):
    # two extract tasks in a row (the pool lets one run at a time; each is a new client, as each task is
    # a new process): the second one's first request waits for the first one's starts to leave the window
    first, _ = make_client(per_second=2, per_minute=58, limiter_key=jikan_limiter_key)
    list(first.iter_anime_pages(TOP, max_pages=2))
    second, _ = make_client(per_second=2, per_minute=58, limiter_key=jikan_limiter_key)
    list(second.iter_anime_pages(TOP, max_pages=2))
    assert [e["status"] for e in anime_requests(replay)] == [200] * 4
    starts = [e["started"] for e in anime_requests(replay)]
    assert starts[2] - starts[0] >= 0.95, starts  # a limiter of its own would have started at once
    assert second.limiter.waited >= 0.8 and first.limiter.waited < 0.5
    assert first.stats.rate_limited == second.stats.rate_limited == 0
