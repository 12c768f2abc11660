"""The compose stack's one front door: the proxy service (nginx) serves Superset at https://localhost:<port>/ and
Airflow at https://localhost:<port>/airflow/ with the certificate `make compose-env` generated, signed by its local
CA, which the clients here trust and nothing else (no check is skipped).

On the stack the compose tests share (after the boot test): plain HTTP is redirected to the same URL over HTTPS;
both UIs answer over HTTPS with HSTS; only the proxy and Postgres publish a port on the host; Chromium, trusting the
CA through its NSS database, signs in to Superset (a dashboard renders) and to Airflow (the DAG list), with no
mixed-content or CSP error and the session cookies Secure; Airflow's token endpoint answers 429 after a handful of
rapid wrong passwords. The response headers seen through the proxy are printed (-s shows them).
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import requests

from compose_stack import ComposeStack

pytestmark = pytest.mark.compose

HSTS = "max-age=31536000; includeSubDomains"
# what the browser console says when a page loads http:// content or breaks the Content Security Policy
BLOCKED = ("Mixed Content", "Content Security Policy", "Refused to")
DASHBOARD = "pipeline-health"  # filled by the runs the boot test made


def show(method: str, url: str, response: requests.Response) -> None:
    """The response's status and headers, printed for the record."""
    print(f"\n{method} {url} -> {response.status_code}")
    for name, value in response.headers.items():
        print(f"  {name}: {value}")


@pytest.fixture(scope="module")
def chromium(stack: ComposeStack, playwright_api):
    """Debian's Chromium trusting the stack's local CA (its NSS database), beside the system's roots."""
    from testkit.browser import home_trusting, launch

    with home_trusting(stack.ca_file) as home:
        browser = launch(playwright_api, home)
        yield browser
        browser.close()


class PageWatch:
    """What a page reported while it was watched: console messages and page errors that name blocked content, and
    every request it sent over plain http://."""

    def __init__(self, page) -> None:
        self.blocked: list[str] = []
        self.insecure: list[str] = []
        page.on("console", lambda message: self._text(f"console {message.type}: {message.text}"))
        page.on("pageerror", lambda error: self._text(f"page error: {error}"))
        page.on("request", lambda request: self.insecure.append(request.url)
                if request.url.startswith(("http://", "ws://")) else None)

    def _text(self, text: str) -> None:
        if any(word in text for word in BLOCKED):
            self.blocked.append(text)


def cookie_flags(context, url: str) -> dict[str, tuple[bool, bool, str]]:
    """{cookie name: (Secure, HttpOnly, SameSite)} of what the browser holds for url."""
    return {c["name"]: (c["secure"], c["httpOnly"], c["sameSite"]) for c in context.cookies(url)}


def test_plain_http_is_redirected_to_the_same_url_over_https(stack):
    url = f"http://127.0.0.1:{stack.ports['HTTP_PORT']}/x?y=1"
    r = requests.get(url, allow_redirects=False, timeout=30)
    show("GET", url, r)
    assert r.status_code == 301
    assert r.headers["Location"] == f"{stack.public_url}/x?y=1"


@pytest.mark.parametrize("path", ["/health", "/login/", "/airflow/api/v2/version", "/airflow/"])
def test_both_uis_answer_over_https_with_hsts(stack, path):
    """Superset's health check and login page, Airflow's version (no login needed) and UI, through the proxy."""
    url = f"{stack.public_url}{path}"
    r = requests.get(url, verify=stack.ca_file, allow_redirects=False, timeout=60)
    show("GET", url, r)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["Strict-Transport-Security"] == HSTS
    if path == "/airflow/api/v2/version":
        assert r.json()["version"].startswith("3."), r.text
    elif path == "/health":
        assert r.text == "OK"


def test_only_the_proxy_and_postgres_publish_a_port_on_the_host(stack):
    bound = {service: sorted(f"{b['HostIp']}:{b['HostPort']}->{port}" for port, bindings in
                             (c["NetworkSettings"]["Ports"] or {}).items() for b in bindings or [])
             for service, c in stack.containers(all_states=False).items()}
    published = {service: ports for service, ports in bound.items() if ports}
    ports = stack.ports
    assert published == {
        "proxy": sorted([f"127.0.0.1:{ports['HTTPS_PORT']}->443/tcp", f"127.0.0.1:{ports['HTTP_PORT']}->80/tcp"]),
        "postgres": [f"127.0.0.1:{ports['POSTGRES_PORT']}->5432/tcp"]}, bound


def test_chromium_signs_in_to_superset_over_https_and_a_dashboard_renders(stack, chromium):
    from testkit.browser import login, render_dashboard

    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    try:
        page = context.new_page()
        watch = PageWatch(page)
        login(page, stack.public_url, "analyst", stack.env["ANIME_DASHBOARD_SUPERSET_ANALYST_PASSWORD"])
        assert urlsplit(page.url).netloc == urlsplit(stack.public_url).netloc, page.url
        result = render_dashboard(page, stack.public_url, DASHBOARD, empty_is_error=False)
        print(f"\nSuperset through the proxy: {DASHBOARD}: {result}; cookies "
              f"{cookie_flags(context, stack.public_url)}")
        assert result["errors"] == [] and result["charts"] > 0 and result["rendered"] > 0, result
        assert watch.blocked == [], watch.blocked
        assert watch.insecure == [], f"requests over plain http: {watch.insecure}"
        assert cookie_flags(context, stack.public_url)["session"] == (True, True, "Lax")
    finally:
        context.close()


def test_chromium_signs_in_to_airflow_under_airflow_and_sees_the_dag_list(stack, chromium):
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    airflow = f"{stack.public_url}/airflow/"
    try:
        page = context.new_page()
        watch = PageWatch(page)
        page.goto(airflow, timeout=60_000)  # no session: the UI sends the browser to FAB's login form
        page.wait_for_selector('input[name="username"]', timeout=60_000)
        assert urlsplit(page.url).path.startswith("/airflow/auth/login"), page.url
        page.fill('input[name="username"]', "viewer")
        page.fill('input[name="password"]', stack.env["ANIME_DASHBOARD_AIRFLOW_VIEWER_PASSWORD"])
        page.click('form[name="login"] [type="submit"]')
        page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)
        assert page.url.startswith(airflow), page.url
        page.goto(f"{airflow}dags", timeout=60_000)
        page.get_by_text("jikan_airing", exact=True).first.wait_for(timeout=60_000)
        flags = cookie_flags(context, airflow)
        print(f"\nAirflow through the proxy: {page.url}; cookies {flags}")
        assert watch.blocked == [], watch.blocked
        assert watch.insecure == [], f"requests over plain http: {watch.insecure}"
        for name in ("session", "_token"):
            assert name in flags and flags[name][0] is True, f"{name} is not Secure: {flags}"
    finally:
        context.close()


def test_the_proxy_throttles_wrong_passwords_at_airflows_token_endpoint(stack):
    """10 a minute per client address, 10 more at once: rapid tries get 429 from nginx once the bucket is full (the
    12th when each try is instant; later on a busy machine, where a password check takes a while and the bucket
    drains a try every 6 s), until it drains. Ends, pass or fail, once the bucket has drained whole (10 tries at 10
    a minute), so that the tests after it get their API tokens at once."""
    url = f"{stack.public_url}/airflow/auth/token"
    wrong = {"username": "viewer", "password": "wrong-password"}
    codes = []
    started = time.monotonic()
    try:
        for _ in range(40):
            r = requests.post(url, json=wrong, verify=stack.ca_file, timeout=60)
            codes.append(r.status_code)
            if r.status_code == 429:
                break
        show("POST", url, r)
        assert codes[-1] == 429, f"no 429 after {len(codes)} rapid tries in {time.monotonic() - started:.0f} s: {codes}"
        assert set(codes[:-1]) <= {401, 403}, f"a wrong password before the limit: {codes}"
        assert "nginx" in r.text and r.headers["Strict-Transport-Security"] == HSTS  # the proxy's, not Airflow's
        throttled = time.monotonic()
        while r.status_code == 429:
            assert time.monotonic() - throttled < 60, "the token endpoint is still throttled after a minute"
            time.sleep(2)
            r = requests.post(url, json=wrong, verify=stack.ca_file, timeout=60)
        stack.timings["token_endpoint_limit"] = {"answers_until_429": codes,
                                                 "seconds_until_429": round(throttled - started, 1),
                                                 "tries_again_after_s": round(time.monotonic() - throttled, 1)}
        print(f"\nAirflow's token endpoint through the proxy: {stack.timings['token_endpoint_limit']}")
        assert r.status_code in (401, 403), r.status_code
    finally:
        time.sleep(61)
