"""Client-side limiter over Jikan's rate windows, shared by every process through Redis.

Jikan allows 3 requests/s and 60 requests/min per client. Each Airflow task is a new process and the pool
``jikan_api`` hands Jikan from one task to the next, so a limiter that lives in one process cannot know
what the previous task just sent. This one keeps the request *starts* of all processes in one Redis
sorted set (``ANIME_DASHBOARD_JIKAN_LIMITER_KEY``, scored by Redis's own clock, so every process and
machine shares one time base) and admits a request with one atomic Lua script:

* count the starts inside every window (half-open ``(now - span, now]``, as Jikan and the replay count);
* if every window has room, add ``now`` and admit; otherwise add nothing and return how long until the
  oldest start that blocks leaves its window (the caller sleeps that long and asks again).

The key expires one longest window after the last start, so nothing lingers in Redis.

If Redis cannot be reached (or answers with an error), the extract does not fail: the limiter logs a
WARNING and falls back, for the rest of that client's life, to in-process pacing with starts evenly spaced
at the most conservative of the windows' rates (``max(span / limit)``: 60/58 s ≈ 1.03 s with the defaults),
the first request waiting one spacing too. That keeps one task under both windows even right after another
task's burst, as long as the pool serialises the tasks, but it is slower and blind to other processes.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

Windows = Sequence[tuple[float, int]]  # (span in seconds, most request starts in any span)

# KEYS[1] the sorted set; ARGV[1] a token unique to the caller; ARGV[2..] span (µs), limit pairs.
# Returns {0, now} when admitted (now added), {wait, now} otherwise (nothing added); µs on Redis's clock.
ACQUIRE_LUA = """
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait, longest = 0, 0
for i = 2, #ARGV, 2 do
  local span, limit = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if span > longest then longest = span end
  local since = '(' .. string.format('%d', now - span)
  local n = redis.call('ZCOUNT', key, since, '+inf')
  if n >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', key, since, '+inf', 'WITHSCORES', 'LIMIT', n - limit, 1)
    local w = tonumber(oldest[2]) + span - now
    if w > wait then wait = w end
  end
end
if wait > 0 then
  return {wait, now}
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - longest))
redis.call('ZADD', key, now, string.format('%d', now) .. ':' .. ARGV[1])
redis.call('PEXPIRE', key, math.floor(longest / 1000) + 1000)
return {0, now}
"""


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    return url


def fallback_interval(windows: Windows) -> float:
    """Spacing of the in-process fallback: the slowest of the windows' even rates (span / limit)."""
    return max((span / limit for span, limit in windows), default=0.0)


class Pacer:
    """Keeps at least ``interval`` seconds between request starts of one process (thread-safe).

    The first request waits one interval too: without shared state, the previous task's last request may
    have started just before this one was created (another process).
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = interval
        self._clock, self._sleep = clock, sleep
        self._next = clock() + interval
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Sleep until the next start is allowed; returns the seconds slept."""
        with self._lock:
            delay = self._next - self._clock()
            if delay > 0:
                self._sleep(delay)
            self._next = self._clock() + self.interval
            return max(0.0, delay)


class RedisWindowLimiter:
    """The shared sliding windows: one Redis sorted set, one atomic script per attempt."""

    def __init__(self, windows: Windows, url: str, key: str, timeout: float = 2.0):
        import redis  # only when a limiter is actually used

        if not windows:
            raise ValueError("a window limiter needs at least one (span, limit) window")
        self.windows = [(float(span), int(limit)) for span, limit in windows]
        if any(span <= 0 or limit < 1 for span, limit in self.windows):
            raise ValueError(f"windows must have a positive span and limit: {self.windows}")
        self.url, self.key = url, key
        self._token = uuid.uuid4().hex[:12]
        self._count = 0
        self._args = [f"{round(span * 1_000_000)}" for span, _ in self.windows]
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        self._script = self._redis.register_script(ACQUIRE_LUA)

    def try_acquire(self) -> tuple[float, float]:
        """One attempt: (0, start) when admitted, else (seconds to wait, now); Redis clock, seconds.
        Raises redis' errors as they come."""
        self._count += 1
        argv: list[str] = [f"{self._token}:{self._count}"]
        for span_us, (_, limit) in zip(self._args, self.windows):
            argv += [span_us, str(limit)]
        wait_us, now_us = self._script(keys=[self.key], args=argv)
        return int(wait_us) / 1_000_000, int(now_us) / 1_000_000

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> tuple[float, float]:
        """Block until admitted. Returns (admission time on Redis's clock, seconds slept)."""
        slept = 0.0
        while True:
            wait, now = self.try_acquire()
            if wait <= 0:
                return now, slept
            wait += 0.001  # the blocking start leaves its window strictly after span
            sleep(wait)
            slept += wait

    def close(self) -> None:
        self._redis.close()


class JikanRateLimiter:
    """What the client waits on before every request attempt.

    * ``windows``: the shared Redis windows (none: no window limiting);
    * ``min_interval``: an optional extra floor between this client's own starts (0: none);
    * Redis unreachable or failing: WARNING, then in-process pacing at ``fallback_interval(windows)``.

    ``backend`` says which is in use (``"redis"``, ``"local"`` after a fall-back, ``"none"``),
    ``waited`` the seconds slept so far, ``admitted`` the starts let through, ``last_start`` the
    admission time of the last start (Redis's clock when shared, else ``time.time()``).
    """

    def __init__(self, windows: Windows = (), redis_url: str = "redis://127.0.0.1:6379/0",
                 key: str = "anime_dashboard:jikan:starts", min_interval: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.windows = [(float(span), int(limit)) for span, limit in windows if limit]
        self.redis_url, self.key = redis_url, key
        self._sleep = sleep
        self._floor = Pacer(min_interval, sleep=sleep) if min_interval > 0 else None
        self._shared: RedisWindowLimiter | None = None
        self._local: Pacer | None = None
        self.backend = "redis" if self.windows else "none"
        self.fallback_reason: str | None = None
        self.waited = 0.0
        self.admitted = 0
        self.last_start: float | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        windows = ", ".join(f"{limit} per {span:g} s" for span, limit in self.windows) or "no windows"
        return f"{windows} over Redis key {self.key!r} at {redact(self.redis_url)}"

    def _fall_back(self, exc: BaseException) -> None:
        interval = fallback_interval(self.windows)
        self.backend = "local"
        self.fallback_reason = f"{type(exc).__name__}: {exc}"
        self._local = Pacer(interval, sleep=self._sleep)
        log.warning(
            "JIKAN RATE LIMITER DEGRADED: Redis at %s is not usable (%s). Falling back to in-process pacing, "
            "one request start every %.3f s for the rest of this task; starts from other task processes are "
            "NOT counted, so only the jikan_api pool keeps them apart. Start Redis or fix "
            "ANIME_DASHBOARD_REDIS_URL to get the shared limiter (%s) back.",
            redact(self.redis_url), self.fallback_reason, interval, self.describe())
        if self._shared is not None:
            try:
                self._shared.close()
            except Exception:  # noqa: BLE001 - closing a broken connection must not fail the task
                pass
            self._shared = None

    def wait(self) -> float:
        """Block until this request may start. Returns the seconds slept."""
        with self._lock:
            slept = self._floor.wait() if self._floor is not None else 0.0
            start = None
            if self.backend == "redis":
                import redis

                try:
                    if self._shared is None:
                        self._shared = RedisWindowLimiter(self.windows, self.redis_url, self.key)
                    start, s = self._shared.acquire(self._sleep)
                    slept += s
                except (redis.exceptions.RedisError, OSError) as exc:
                    self._fall_back(exc)
            if self.backend == "local":
                slept += self._local.wait()
            self.waited += slept
            self.admitted += 1
            self.last_start = start if start is not None else time.time()
            return slept

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None


def max_in_window(starts: Sequence[float], span: float) -> int:
    """Most starts in any half-open window of ``span`` seconds (the way the limiter and Jikan count)."""
    starts = sorted(starts)
    best, lo = 0, 0
    for hi, t in enumerate(starts):
        while starts[lo] <= t - span:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


__all__ = ["ACQUIRE_LUA", "JikanRateLimiter", "Pacer", "RedisWindowLimiter", "fallback_interval",
           "max_in_window", "redact"]
