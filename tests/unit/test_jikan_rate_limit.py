"""The Jikan rate limiter against the real Redis: both windows, shared by processes, and its fall-back."""
from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import time

import pytest
import redis

from anime_dashboard.jikan.client import JikanClient
from anime_dashboard.jikan.rate_limit import (
    JikanRateLimiter, RedisWindowLimiter, fallback_interval, max_in_window, redact)
from anime_dashboard.settings import JikanSettings, jikan_settings

REDIS_URL = os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")
TOP = {"status": "complete", "order_by": "score", "sort": "desc"}
# Jikan's windows as the client keeps them (2 per 1 s, 58 per 60 s), on a clock 10x faster
SCALED = [(0.1, 2), (6.0, 58)]


def dead_redis_url() -> str:
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{s.getsockname()[1]}/0"


@pytest.fixture
def limiter_log():
    """WARNINGs of the limiter's logger, caught on the logger itself (Airflow reconfigures logging once
    its HTTP hook is imported, so the root logger's capture is not reliable)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("anime_dashboard.jikan.rate_limit")
    handler = Keep(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def settings(**kw) -> JikanSettings:
    base = dict(min_interval=0.0, max_attempts=3, backoff_base=0.05, backoff_max=1.0, timeout=2.0,
                per_second=2, per_minute=58, redis_url=REDIS_URL)
    return JikanSettings(**(base | kw))


# -- one process ---------------------------------------------------------------------------------

def test_a_refused_attempt_returns_the_wait_and_records_nothing(jikan_limiter_key):
    limiter = RedisWindowLimiter([(1.0, 2), (60.0, 58)], REDIS_URL, jikan_limiter_key)
    r = redis.Redis.from_url(REDIS_URL)
    (w1, t1), (w2, t2) = limiter.try_acquire(), limiter.try_acquire()
    assert w1 == w2 == 0 and t1 <= t2
    wait, now = limiter.try_acquire()  # a third start within 1 s: refused
    assert 0 < wait <= 1.0 and abs((t1 + 1.0 - now) - wait) < 0.001
    assert r.zcard(jikan_limiter_key) == 2  # the refused attempt left no stamp
    assert 59_000 < r.pttl(jikan_limiter_key) <= 61_000  # the key goes away a window after the last start
    time.sleep(wait + 0.002)
    w3, t3 = limiter.try_acquire()
    assert w3 == 0 and t3 - t1 > 1.0 and r.zcard(jikan_limiter_key) == 3


def test_the_longer_window_binds_once_the_shorter_one_has_room(jikan_limiter_key):
    limiter = RedisWindowLimiter([(0.05, 2), (1.0, 5)], REDIS_URL, jikan_limiter_key)
    starts = [limiter.acquire()[0] for _ in range(7)]
    assert max_in_window(starts, 0.05) <= 2 and max_in_window(starts, 1.0) <= 5
    assert starts[5] - starts[0] > 1.0  # the 6th waited for the 1st to leave the 1 s window
    assert starts[4] - starts[0] < 0.5  # the first five only waited for the short window


# -- processes sharing one key -------------------------------------------------------------------

def _acquire_many(key: str, n: int, go, out) -> None:
    limiter = RedisWindowLimiter(SCALED, REDIS_URL, key)
    go.wait(30)
    out.put((os.getpid(), [limiter.acquire()[0] for _ in range(n)]))


def test_two_processes_sharing_the_limiter_never_exceed_either_window(jikan_limiter_key):
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_acquire_many, args=(jikan_limiter_key, 40, go, out)) for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    go.set()
    results = dict(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    a, b = results.values()
    starts = sorted(a + b)
    assert len(starts) == 80
    assert min(a) < max(b) and min(b) < max(a), "the two processes did not overlap"
    # the promise, on Redis's clock: at most 2 in any 0.1 s and 58 in any 6 s (1 s and 60 s at x10)
    assert max_in_window(starts, 0.1) == 2
    assert max_in_window(starts, 6.0) == 58
    assert starts[58] - starts[0] > 6.0  # the 59th waited for the long window
    assert starts[57] - starts[0] < 4.5  # ...while the first 58 only waited for the short one (2.9 s)


def _client_pages(key: str, pages: int, go, out) -> None:
    client = JikanClient(settings=settings(limiter_key=key))
    client._http()
    go.wait(30)
    list(client.iter_anime_pages(TOP, max_pages=pages))
    out.put((client.stats.as_dict(), client.limiter.backend))


@pytest.mark.timing
def test_two_client_processes_on_jikans_real_limits_get_no_429(replay, jikan_limiter_key):
    # each process alone keeps 2/s; together they would send 4/s and the replay (3/s) would refuse some
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_client_pages, args=(jikan_limiter_key, 4, go, out)) for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(3)  # both import Airflow's HTTP hook before the race
    go.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    anime = [e for e in replay.log if e["path"] == "/v4/anime"]
    assert [e["status"] for e in anime] == [200] * 8
    assert all(stats["rate_limited"] == 0 and backend == "redis" for stats, backend in results)
    starts = [e["started"] for e in anime]
    # arrival times at the replay carry a loaded machine's jitter (what the 2-of-3 margin is for): Jikan's own
    # limit is what must hold there; the limiter's exact windows are asserted on Redis's clock above
    assert max_in_window(starts, 1.0) <= 3


# -- Redis unusable: in-process fall-back ----------------------------------------------------------

def test_redis_down_falls_back_to_in_process_pacing_with_a_warning_and_the_extract_still_works(
        replay, limiter_log):
    url = dead_redis_url()
    client = JikanClient(settings=settings(redis_url=url))
    client._http()
    created = time.time()
    pages = list(client.iter_anime_pages(TOP, max_pages=2))
    assert [len(p.data) for p in pages] == [25, 25]
    assert client.limiter.backend == "local" and "ConnectionError" in client.limiter.fallback_reason
    warnings = [r for r in limiter_log if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "DEGRADED" in warnings[0].getMessage() and url in warnings[0].getMessage()
    interval = fallback_interval([(1.0, 2), (60.0, 58)])
    assert interval == pytest.approx(60 / 58)
    starts = [e["started"] for e in replay.log if e["path"] == "/v4/anime"]
    assert starts[1] - starts[0] >= interval - 0.02  # evenly spaced: at most 58 a minute
    assert starts[0] - created >= interval - 0.02  # the first request waited one spacing too


def test_a_redis_error_in_mid_task_falls_back_without_failing(jikan_limiter_key, limiter_log):
    limiter = JikanRateLimiter(SCALED, redis_url=REDIS_URL, key=jikan_limiter_key)
    limiter.wait()
    limiter.wait()
    assert limiter.backend == "redis"
    redis.Redis.from_url(REDIS_URL).set(jikan_limiter_key, "not a sorted set")  # WRONGTYPE from now on
    began = time.monotonic()
    limiter.wait()
    took = time.monotonic() - began
    assert limiter.backend == "local" and "WRONGTYPE" in limiter.fallback_reason
    assert limiter.admitted == 3 and took >= fallback_interval(SCALED) - 0.005
    assert len(limiter_log) == 1 and "DEGRADED" in limiter_log[0].getMessage()


# -- settings ------------------------------------------------------------------------------------

def test_the_windows_key_and_redis_url_come_from_the_environment(monkeypatch):
    for name in ("JIKAN_PER_SECOND", "JIKAN_PER_MINUTE", "JIKAN_LIMITER_KEY", "JIKAN_MIN_INTERVAL", "REDIS_URL"):
        monkeypatch.delenv("ANIME_DASHBOARD_" + name, raising=False)
    default = jikan_settings()
    assert default.windows == [(1.0, 2), (60.0, 58)] and default.min_interval == 0.0
    assert default.limiter_key == "anime_dashboard:jikan:starts"
    assert default.redis_url == "redis://127.0.0.1:6379/0"
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_PER_SECOND", "1")
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_PER_MINUTE", "0")  # 0 turns a window off
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_LIMITER_KEY", "elsewhere:starts")
    monkeypatch.setenv("ANIME_DASHBOARD_REDIS_URL", "redis://10.0.0.9:6380/3")
    s = jikan_settings()
    assert s.windows == [(1.0, 1)] and s.limiter_key == "elsewhere:starts"
    assert s.redis_url == "redis://10.0.0.9:6380/3"
    monkeypatch.setenv("ANIME_DASHBOARD_JIKAN_PER_MINUTE", "57.5")
    with pytest.raises(ValueError, match="JIKAN_PER_MINUTE"):
        jikan_settings()
    # settings built by hand (tests, benchmarks) keep only the pacing they name
    assert JikanSettings(min_interval=0.34, max_attempts=3, backoff_base=0.01, backoff_max=0.1,
                         timeout=2.0).windows == []


def test_logged_redis_urls_hide_the_password():
    assert redact("redis://user:s3cret@cache:6380/2") == "redis://user:***@cache:6380/2"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
