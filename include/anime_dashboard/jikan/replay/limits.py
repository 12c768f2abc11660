"""Jikan's rate limit as the replay enforces it: a sliding-window request limiter."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Iterable


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
