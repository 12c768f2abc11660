"""Jikan v4 client on the HTTP provider's HttpHook: GET only, rate-limited, retried, paged.

* rate: before every attempt the client waits on :class:`~anime_dashboard.jikan.rate_limit.JikanRateLimiter`,
  a sliding-window limiter over both of Jikan's windows (by default at most 2 request starts in any 1 s and
  58 in any 60 s; Jikan allows 3/s and 60/min) whose request starts live in Redis, so they are shared by
  every task process, DAG and worker. Time lost between tasks is won back in bursts instead of being lost
  to a fixed interval. Redis unreachable: a WARNING, then in-process pacing (see ``rate_limit``); the
  extract never fails because of Redis. ``min_interval`` (default 0) adds a floor between one client's
  own starts. Across tasks and DAGs the Airflow pool ``jikan_api`` (one slot) still serialises callers.
* retries: 429, 5xx, timeouts, connection errors, a 200 whose body is an error object and a body
  that is not JSON are retried with exponential back-off and jitter (tenacity). A ``Retry-After``
  header is honoured when sent; Jikan sends none, so the client backs off on its own.
* when retries run out, :class:`JikanRequestError` names the URL, the status and Jikan's
  ``message``/``messages``, and says how many requests, retries and 429s this client had made; the same
  counts are on the exception as ``stats`` (nothing is landed in ``raw`` for an extract that gives up, so
  the error is where a failed run's requests show).
* paging follows ``has_next_page`` (Jikan has been seen sending ``last_visible_page: 1`` with
  ``has_next_page: true``, so ``last_visible_page`` is not trusted either way) and stops at the first
  page without data, whatever it claims, or at ``max_pages``.
"""
from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import tenacity

from anime_dashboard.jikan.rate_limit import JikanRateLimiter
from anime_dashboard.settings import JIKAN_CONN_ID, JikanSettings, jikan_settings
from anime_dashboard.snapshots import PAGE_SIZE

log = logging.getLogger(__name__)

ANIME_ENDPOINT = "v4/anime"
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class JikanError(Exception):
    """A Jikan request failed; carries what a person needs to see why."""

    def __init__(self, url: str, status: int | None, detail: str, retry_after: float | None = None):
        self.url = url
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(f"GET {url} -> {status if status is not None else 'no response'}: {detail}")


class RetryableJikanError(JikanError):
    """A failure worth another try (429, 5xx, timeout, bad body)."""


class JikanRequestError(JikanError):
    """A request that will not succeed: retries ran out, or Jikan refused it (4xx).

    ``stats``: the client's :class:`RequestStats` counts when it gave up (requests, retries, 429s, pages).
    """

    stats: dict[str, int] | None = None


def _error_detail(body: Any) -> str:
    """Jikan's error text: ``message`` (most errors) or ``messages`` (400 validation)."""
    if not isinstance(body, dict):
        return "response body is not a JSON object"
    parts = [f"{body.get('type') or 'error'}"]
    if body.get("message"):
        parts.append(str(body["message"]))
    if body.get("messages"):
        parts.append(json.dumps(body["messages"], ensure_ascii=False))
    if body.get("error"):
        parts.append(f"({body['error']})")
    return ": ".join(parts[:2]) + (" " + " ".join(parts[2:]) if len(parts) > 2 else "")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def is_error_body(body: Any) -> bool:
    """True for Jikan's error object (``status`` + ``type``, no ``data``), whatever the HTTP status."""
    return isinstance(body, dict) and "data" not in body and "status" in body and "type" in body


@dataclass
class RequestStats:
    requests: int = 0  # HTTP requests sent (every attempt)
    retries: int = 0  # attempts after the first, over all pages
    rate_limited: int = 0  # 429 responses received
    pages: int = 0  # pages fetched successfully

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "retries": self.retries,
                "rate_limited": self.rate_limited, "pages": self.pages}


@dataclass
class Page:
    page: int
    url: str
    status: int
    body: dict[str, Any]
    fetched_at: datetime

    @property
    def data(self) -> list[Any]:
        return self.body.get("data") or []

    @property
    def has_next_page(self) -> bool:
        return bool((self.body.get("pagination") or {}).get("has_next_page"))


@dataclass
class JikanClient:
    """Paged, rate-limited, retried GETs on Jikan through the ``jikan_default`` connection."""

    conn_id: str = JIKAN_CONN_ID
    settings: JikanSettings = field(default_factory=jikan_settings)
    sleep: Callable[[float], None] = time.sleep
    stats: RequestStats = field(default_factory=RequestStats)

    def __post_init__(self) -> None:
        st = self.settings
        # the limiter always sleeps for real (``sleep`` is the back-off's, which tests shorten)
        self.limiter = JikanRateLimiter(st.windows, redis_url=st.redis_url, key=st.limiter_key,
                                        min_interval=st.min_interval)
        if st.windows:
            log.info("Jikan rate limiter: %s", self.limiter.describe())
        self._hook = None

    # -- one request -------------------------------------------------------------------------
    def _http(self):
        if self._hook is None:
            from airflow.providers.http.hooks.http import HttpHook  # heavy import: only when used

            self._hook = HttpHook(method="GET", http_conn_id=self.conn_id)
        return self._hook

    def _attempt(self, endpoint: str, params: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
        hook = self._http()
        url = requests.Request("GET", hook.url_from_endpoint(endpoint), params=params).prepare().url
        self.limiter.wait()
        self.stats.requests += 1
        try:
            resp: requests.Response = hook.run(
                endpoint, data=params,
                extra_options={"check_response": False, "timeout": self.settings.timeout},
            )
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            raise RetryableJikanError(url, None, f"{type(exc).__name__}: {exc}") from exc
        url = resp.url or url
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code == 429:
            self.stats.rate_limited += 1
        if resp.status_code in RETRYABLE_STATUSES:
            raise RetryableJikanError(url, resp.status_code, _error_detail(body),
                                      parse_retry_after(resp.headers.get("Retry-After")))
        if resp.status_code >= 400:
            raise JikanRequestError(url, resp.status_code, _error_detail(body))
        if body is None:
            snippet = resp.text[:120].replace("\n", " ")
            raise RetryableJikanError(url, resp.status_code, f"body is not valid JSON: {snippet!r}")
        if is_error_body(body):
            if str(body.get("status")) == "429":
                self.stats.rate_limited += 1
            raise RetryableJikanError(url, resp.status_code, "error object in a 200 response: "
                                      + _error_detail(body), parse_retry_after(resp.headers.get("Retry-After")))
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise RetryableJikanError(url, resp.status_code, "body has no `data` list")
        return url, resp.status_code, body

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        n = retry_state.attempt_number  # attempts made so far
        backoff = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (n - 1))
        backoff = backoff / 2 + random.uniform(0, backoff / 2)  # "equal jitter": never below half
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:  # the server said how long: honour it (capped)
            return min(self.settings.backoff_max, retry_after)
        return backoff

    def _before_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        self.stats.retries += 1
        exc = retry_state.outcome.exception()
        log.warning("Jikan attempt %d failed (%s); retrying in %.1f s",
                    retry_state.attempt_number, exc, retry_state.next_action.sleep)

    def get(self, endpoint: str, params: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
        """One logical GET, retried. Returns (final url, status, JSON body)."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableJikanError),
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, endpoint, params)
        except RetryableJikanError as exc:
            st = self.stats
            error = JikanRequestError(
                exc.url, exc.status,
                f"gave up after {self.settings.max_attempts} attempts; last error: {exc.detail}; "
                f"this extract so far: {st.requests} requests, {st.retries} retries, {st.rate_limited} "
                f"rate limited (429), {st.pages} pages",
            )
            error.stats = st.as_dict()
            raise error from exc
        except JikanRequestError as exc:  # refused at once (4xx)
            exc.stats = self.stats.as_dict()
            raise

    # -- paging ------------------------------------------------------------------------------
    def iter_anime_pages(self, params: dict[str, str], max_pages: int) -> Iterator[Page]:
        """GET /v4/anime page by page until ``has_next_page`` is false or ``max_pages`` is reached."""
        for page in range(1, max_pages + 1):
            url, status, body = self.get(ANIME_ENDPOINT, {**params, "page": page, "limit": PAGE_SIZE})
            self.stats.pages += 1
            result = Page(page=page, url=url, status=status, body=body, fetched_at=datetime.now(timezone.utc))
            yield result
            if not result.has_next_page or not result.data:
                return
