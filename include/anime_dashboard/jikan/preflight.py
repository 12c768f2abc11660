"""Before any DAG runs: can the configured Jikan be reached at all? One request, an answer in seconds.

A host that cannot be resolved or reached is a problem (the DAGs would spend minutes in retries before
saying so); a slow answer, a 429 or a 5xx is not (Jikan is slow and rate-limited at times, and the DAGs
retry those): a note. The request goes through the shared rate limiter like every other Jikan call.
"""
from __future__ import annotations

import json
import os
import time
from urllib.parse import urlparse

import requests

from anime_dashboard.jikan.client import ANIME_ENDPOINT

CONNECT_SECONDS = 5
READ_SECONDS = 15
OFFLINE_HINT = "set JIKAN_OFFLINE=1 to run on the bundled replay of real Jikan responses instead"


def configured_url(conn: str | None = None) -> str:
    """The anime endpoint of the ``jikan_default`` connection (AIRFLOW_CONN_JIKAN_DEFAULT: JSON or URI)."""
    conn = conn if conn is not None else os.environ.get("AIRFLOW_CONN_JIKAN_DEFAULT", "")
    if conn.strip().startswith("{"):
        c = json.loads(conn)
        scheme, host, port = c.get("schema") or "http", c.get("host") or "", c.get("port")
    else:
        u = urlparse(conn or "https://api.jikan.moe")
        scheme, host, port = ("https" if u.scheme == "https" else "http"), u.hostname or "", u.port
    return f"{scheme}://{host}{f':{port}' if port else ''}/{ANIME_ENDPOINT}"


def _cause(exc: BaseException) -> str:
    text = str(exc)
    if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return f"its host cannot be resolved ({type(exc).__name__}: {text[:300]})"
    return f"it cannot be reached ({type(exc).__name__}: {text[:300]})"


def check_jikan(url: str | None = None, *, limiter=None) -> tuple[str | None, str]:
    """(problem or None, what was seen) after one GET of the anime endpoint."""
    url = url or configured_url()
    if limiter is None:
        from anime_dashboard.jikan.client import JikanClient

        limiter = JikanClient().limiter
    limiter.wait()
    started = time.monotonic()
    try:
        resp = requests.get(url, params={"limit": 1}, timeout=(CONNECT_SECONDS, READ_SECONDS))
    except requests.exceptions.ConnectTimeout as exc:
        return (f"Jikan at {url}: no connection in {CONNECT_SECONDS} s ({exc}); {OFFLINE_HINT}",
                "connect timeout")
    except requests.exceptions.ReadTimeout:
        return None, f"Jikan at {url} is slow (no answer in {READ_SECONDS} s): going on, the DAGs retry"
    except requests.ConnectionError as exc:
        return f"Jikan at {url}: {_cause(exc)}; {OFFLINE_HINT}", "connection error"
    seconds = time.monotonic() - started
    if resp.status_code == 429:
        return None, f"Jikan at {url} answered 429 (rate limited) in {seconds:.1f} s: going on, the DAGs wait"
    if resp.status_code >= 500:
        return None, (f"Jikan at {url} answered {resp.status_code} in {seconds:.1f} s (an outage?): going on, "
                      "the DAGs retry")
    return None, f"Jikan reachable at {url} (HTTP {resp.status_code} in {seconds:.1f} s)"
