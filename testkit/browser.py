"""Drive a Superset dashboard in Debian's Chromium (Playwright, sync API) and report how its charts rendered.

Shared by the browser tests, `make screenshots` and bench/dashboards_render.py. No browser is ever downloaded:
Playwright launches /usr/bin/chromium. ``home_trusting(ca_file)`` gives it a HOME whose NSS database trusts one more
CA (the compose proxy's local one), so it checks that server's certificate like any other: no ignored errors.

The DOM it relies on (checked against Superset 6.1's dashboard page):

- ``[data-test="chart-grid-component"]`` (attribute ``data-test-chart-id``, ``data-test-chart-name``): one per
  chart on the dashboard (markdown blocks are not), present from the first render of the grid;
- ``[data-test="loading-indicator"]`` inside it while the chart's query runs;
- ``.ant-alert-error`` (``role="alert"``) inside it when the query or the render failed ("Data error",
  "Unexpected error", ...): the chart body is then replaced by the alert;
- ``[data-test="slice-container"] #chart-id-<id>`` once the chart's plugin rendered, with a canvas (ECharts),
  a table or text (big number) in it; ``.ant-empty`` ("No results were returned for this query") instead
  when the query returned no rows.

Besides the DOM, every ``/api/v1/chart/data`` response the page receives is watched; an HTTP error there is
reported too (the alert alone says "Data error" without the chart's name).
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MAX_VIEWPORT_HEIGHT = 12000  # tall enough for every dashboard row to be on screen (no lazy rendering left out)
# a page with its charts painted is 140-320 kB as PNG; a capture of the grid before it paints again (after the
# viewport grew, on a busy machine) ~45-50 kB, with no chart in it
PAINTED_PNG_BYTES = 100_000

# One pass over the charts of the page: their state as the DOM shows it.
CHART_STATES = """() => [...document.querySelectorAll('[data-test="chart-grid-component"]')].map(c => {
    const id = c.getAttribute('data-test-chart-id');
    const name = c.getAttribute('data-test-chart-name') || ('chart ' + id);
    const alert = c.querySelector('.ant-alert-error, [role="alert"]');
    const loading = c.querySelector('[data-test="loading-indicator"]');
    const slice = c.querySelector('[data-test="slice-container"]');
    const viz = slice ? slice.querySelector('[id^="chart-id-"]') : null;
    const empty = slice ? slice.querySelector('.ant-empty') : null;
    let state = 'loading', text = '';
    if (alert) {
        state = 'error';
        text = alert.innerText.replace(/\\s+/g, ' ').trim();
    } else if (loading) {
        state = 'loading';
    } else if (empty) {
        state = 'empty';
        text = slice.innerText.replace(/\\s+/g, ' ').trim();
    } else if (viz && (viz.querySelector('canvas, svg, table') || viz.innerText.trim())) {
        state = 'rendered';
    }
    return {id, name, state, text};
})"""


def launch(playwright: Any, home: str | None = None):
    """Debian's Chromium, headless, through Playwright (never a downloaded browser); with ``home`` (see
    home_trusting) as its HOME."""
    env = {**os.environ, "HOME": home} if home else None
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env)


@contextmanager
def home_trusting(ca_file: str) -> Iterator[str]:
    """A temporary HOME for Chromium whose NSS database ($HOME/.pki/nssdb, where Chromium on Linux finds the roots
    a user added) trusts ``ca_file`` as a CA for TLS servers, beside the system's roots; removed afterwards.
    Needs certutil (Debian's libnss3-tools: make install)."""
    with tempfile.TemporaryDirectory(prefix="ad_chromium_home_") as home:
        nssdb = os.path.join(home, ".pki", "nssdb")
        os.makedirs(nssdb)
        for args in (["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "anime-dashboard-ca", "-i", ca_file]):
            subprocess.run(["certutil", "-d", f"sql:{nssdb}", *args], check=True, capture_output=True, timeout=60)
        yield home


def login(page: Any, base_url: str, username: str, password: str, timeout_s: float = 60, attempts: int = 3) -> None:
    """Log in through Superset's /login/ form; raise if Superset keeps the browser on the login page.

    The form is filled once its scripts have loaded (a form submitted before that posts nothing useful), and a
    submit that lands back on the form is tried again, at most ``attempts`` times in all, each retry printed:
    seen on a loaded machine, cause not found."""
    base_url = base_url.rstrip("/")
    for attempt in range(1, attempts + 1):
        page.goto(f"{base_url}/login/", timeout=timeout_s * 1000)
        page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
        page.fill('[data-test="username-input"]', username)
        page.fill('[data-test="password-input"]', password)
        page.click('[data-test="login-button"]')
        try:
            page.wait_for_url(lambda url: "/login" not in url, timeout=timeout_s * 1000 / attempts)
            page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
            return
        except Exception as exc:  # playwright's TimeoutError: still on the form
            print(f"Superset login as {username!r}, attempt {attempt} of {attempts}: still on {page.url} ({exc!r})")
    raise RuntimeError(f"Superset login as {username!r} failed {attempts} times (still on {page.url})")


def render_dashboard(page: Any, base_url: str, slug: str, screenshot_path: str | None = None,
                     timeout_s: float = 90, empty_is_error: bool = True) -> dict[str, Any]:
    """Open /superset/dashboard/<slug>/, wait until every chart finished (rendered, empty or failed), and report.

    Returns ``{"charts": chart containers on the page, "rendered": charts that drew something,
    "errors": ["<chart name>: <message>", ...]}``. A chart with no rows counts as an error unless
    ``empty_is_error`` is False; a chart still loading at the deadline is reported as an error.
    The viewport is made as tall as the dashboard first, so that every chart is on screen and loads.
    """
    base_url = base_url.rstrip("/")
    failed_requests: list[str] = []

    def on_response(response: Any) -> None:
        if "/api/v1/chart/data" in response.url and response.status >= 400:
            try:
                body = response.json()
                message = "; ".join(e.get("message", "") for e in body.get("errors", [])) or body.get("message")
            except Exception:  # not JSON: keep the status alone
                message = None
            query = parse_qs(urlparse(response.url).query)
            try:
                chart = f"chart {json.loads(query['form_data'][0])['slice_id']}"
            except (KeyError, IndexError, TypeError, ValueError):
                chart = "a chart"
            failed_requests.append(f"{chart}: HTTP {response.status} from /api/v1/chart/data"
                                   + (f": {message}" if message else ""))

    original_viewport = page.viewport_size
    page.on("response", on_response)
    watch = RequestWatch(page)
    try:
        page.goto(f"{base_url}/superset/dashboard/{slug}/", timeout=timeout_s * 1000)
        deadline = time.monotonic() + timeout_s
        try:
            page.wait_for_selector('[data-test="chart-grid-component"]', timeout=timeout_s * 1000)
        except Exception as exc:  # playwright's TimeoutError: say what the page shows and what it waits for
            raise RuntimeError(f"no chart of dashboard {slug!r} on the page after {timeout_s:.0f} s; "
                               f"{watch.report()}") from exc
        fit_viewport_to_page(page, original_viewport)

        states: list[dict[str, Any]] = []
        stable_since = None
        last_key = None
        while time.monotonic() < deadline:
            states = page.evaluate(CHART_STATES)
            key = [(s["id"], s["state"]) for s in states]
            done = states and all(s["state"] != "loading" for s in states)
            if done and key == last_key:
                if stable_since and time.monotonic() - stable_since >= 1.5:  # settled: no late re-render
                    break
                stable_since = stable_since or time.monotonic()
            else:
                stable_since = None
            last_key = key
            page.wait_for_timeout(250)
        fit_viewport_to_page(page, original_viewport)  # rows may have grown while charts drew
        page.wait_for_timeout(500)
        states = page.evaluate(CHART_STATES)

        errors = []
        for s in states:
            if s["state"] == "error":
                errors.append(f"{s['name']}: {s['text'] or 'error'}")
            elif s["state"] == "loading":
                errors.append(f"{s['name']}: still loading after {timeout_s:.0f} s")
            elif s["state"] == "empty" and empty_is_error:
                errors.append(f"{s['name']}: {s['text'] or 'no data'}")
        errors.extend(failed_requests)
        if screenshot_path:
            _capture_painted(page, screenshot_path, time.monotonic() + 15)
        return {"charts": len(states), "rendered": sum(s["state"] == "rendered" for s in states), "errors": errors}
    finally:
        page.remove_listener("response", on_response)
        watch.stop()
        if original_viewport:
            page.set_viewport_size(original_viewport)


class RequestWatch:
    """The page's requests to Superset's API while it is watched: which are still waiting for an answer, which
    failed (no answer) or answered an error; ``report()`` says so with what the page shows."""

    def __init__(self, page: Any):
        self.page, self.started, self.pending, self.failed = page, time.monotonic(), {}, []
        self.handlers = {"request": self._request, "requestfinished": self._finished,
                         "requestfailed": self._failed, "response": self._response}
        for event, handler in self.handlers.items():
            page.on(event, handler)

    @staticmethod
    def _name(request: Any) -> str:
        return f"{request.method} {urlparse(request.url).path}"

    def _request(self, request: Any) -> None:
        if "/api/" in request.url:
            self.pending[id(request)] = (self._name(request), time.monotonic())

    def _finished(self, request: Any) -> None:
        self.pending.pop(id(request), None)

    def _failed(self, request: Any) -> None:
        if self.pending.pop(id(request), None):
            self.failed.append(f"{self._name(request)}: {request.failure}")

    def _response(self, response: Any) -> None:
        if "/api/" in response.url and response.status >= 400:
            self.failed.append(f"{self._name(response.request)}: HTTP {response.status}")

    def report(self) -> str:
        now = time.monotonic()
        pending = [f"{name} ({now - since:.0f} s)" for name, since in self.pending.values()]
        try:
            text = self.page.evaluate("() => document.body.innerText").replace("\n", " ")[:400]
        except Exception as exc:  # the page itself is gone
            text = f"(unreadable: {exc!r})"
        return (f"at {self.page.url}, {now - self.started:.0f} s after it was opened: API calls unanswered: "
                f"{pending or 'none'}; failed: {self.failed or 'none'}; the page reads: {text!r}")

    def stop(self) -> None:
        for event, handler in self.handlers.items():
            self.page.remove_listener(event, handler)


def _capture_painted(page: Any, path: str, deadline: float) -> None:
    """A full-page screenshot once the last layout has painted (two animation frames, fonts loaded), taken again,
    a second apart, while it shows a grid not painted yet (PAINTED_PNG_BYTES) and time remains; written under a
    temporary name and renamed, so ``path`` never holds a half-written picture."""
    partial = f"{path.removesuffix('.png')}.tmp.png"
    while True:
        page.evaluate("() => document.fonts.ready.then(() => new Promise(r => "
                      "requestAnimationFrame(() => requestAnimationFrame(r))))")
        page.screenshot(path=partial, full_page=True)
        if os.path.getsize(partial) > PAINTED_PNG_BYTES or time.monotonic() > deadline:
            os.replace(partial, path)
            return
        page.wait_for_timeout(1000)


def fit_viewport_to_page(page: Any, original: dict[str, int] | None) -> None:
    width = (original or {}).get("width", 1600)
    height = page.evaluate("() => Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    height = max((original or {}).get("height", 1000), min(int(height), MAX_VIEWPORT_HEIGHT))
    if (page.viewport_size or {}).get("height") != height:
        page.set_viewport_size({"width": width, "height": height})


# SQL Lab's left bar (Superset 6.1): ``[data-test="DatabaseSelector"]`` holds two buttons, the database (its
# name in ``.name``, with a title attribute) and the schema ("Select schema" until one is chosen);
# ``[data-test="add-tab-icon"]`` opens a new editor tab.
_SQL_LAB_SELECTION = """() => {
    const box = document.querySelector('[data-test="DatabaseSelector"]');
    if (!box) return null;
    const name = box.querySelector('.name');
    const buttons = [...box.querySelectorAll('button')];
    const schema = buttons.length > 1 ? buttons[1].innerText.trim() : '';
    return {database: name ? name.getAttribute('title') : null,
            schema: schema && schema !== 'Select schema' ? schema : null,
            tabs: document.querySelectorAll('[data-test="sql-editor-tabs"] [role="tab"]').length,
            text: box.innerText.replace(/\\s+/g, ' ').trim()};
}"""


def sql_lab_selection(page: Any, base_url: str, new_tab: bool = False, timeout_s: float = 60) -> dict[str, Any]:
    """Open SQL Lab as the logged-in user (and, with new_tab, add a tab) and return the database and schema it
    chose by itself: {"database", "schema", "tabs", "text"}; None for a picker still empty after timeout_s."""
    page.goto(f"{base_url}/sqllab/", timeout=timeout_s * 1000)
    if new_tab:
        page.wait_for_selector('[data-test="add-tab-icon"]', timeout=timeout_s * 1000)
        before = page.evaluate(_SQL_LAB_SELECTION) or {}
        page.click('[data-test="add-tab-icon"]')
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (page.evaluate(_SQL_LAB_SELECTION) or {}).get("tabs", 0) <= before.get(
                "tabs", 0):
            time.sleep(0.25)
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(_SQL_LAB_SELECTION)
        if state and state["database"] and state["schema"]:
            break
        time.sleep(0.25)
    return state or {"database": None, "schema": None, "tabs": 0, "text": None}
