"""The Redis the tests and benchmarks share with `make run`, and removing the keys a run wrote there."""
from __future__ import annotations

import os

import redis


def redis_url() -> str:
    """The Redis of ANIME_DASHBOARD_REDIS_URL (this machine's by default)."""
    return os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_client(url: str | None = None) -> redis.Redis:
    return redis.Redis.from_url(url or redis_url(), socket_connect_timeout=3, socket_timeout=3)


def delete_keys(pattern: str, url: str | None = None) -> None:
    """Every key matching ``pattern`` (SCAN's glob) deleted; nothing when Redis does not answer (the keys a run
    leaves behind expire or are only names under its own prefix)."""
    try:
        r = redis_client(url)
        try:
            keys = list(r.scan_iter(match=pattern, count=1000))
            if keys:
                r.delete(*keys)
        finally:
            r.close()
    except redis.exceptions.RedisError:
        pass
