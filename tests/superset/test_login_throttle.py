"""Superset's logins are throttled (superset/superset_config.py): FAB's limiter, with its counters in the real
Redis, allows AUTH_RATE_LIMIT login POSTs for one user name from one address, then answers 429 until the window
has passed, and the failed REST logins count against the same allowance. Two Superset processes (the session's
and a second gunicorn on the same home) share one counter.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
import subprocess
import time

import pytest
import requests

from anime_dashboard.dashboards import server
from support import stop_process_groups, wait_until_it_answers
from testkit.ports import free_port


@pytest.fixture
def second_superset(superset, tmp_path):
    """Another gunicorn (one worker) serving the session's Superset home, on a port of its own."""
    s = dataclasses.replace(superset.settings, port=free_port())
    s = dataclasses.replace(s, url=f"http://{s.host}:{s.port}")
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 - closed by stop_process_groups
    proc = subprocess.Popen(server.serve_command(s, workers=1), env=server.superset_env(s), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_it_answers(f"{s.url}/health", proc, tmp_path / "gunicorn.log", timeout=120)
        yield s.url
    finally:
        stop_process_groups({"second superset": (proc, log)})


def limit_of(superset) -> tuple[int, int]:
    """AUTH_RATE_LIMIT as (attempts, window in seconds), read from the configuration the servers run with."""
    python = superset.settings.venv / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import os, runpy; "
                          "print(runpy.run_path(os.environ['SUPERSET_CONFIG_PATH'])['AUTH_RATE_LIMIT'])"],
                         env=server.superset_env(superset.settings), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    match = re.fullmatch(r"(\d+) per (\d+) seconds?", out.stdout.strip())
    assert match, out.stdout
    return int(match.group(1)), int(match.group(2))


def new_login(superset) -> tuple[str, str]:
    """A Superset user of the test's own (role Gamma), so that no other login's attempts share its counter."""
    user, password = f"throttle-{secrets.token_hex(4)}", secrets.token_urlsafe(18)
    made = subprocess.run([str(superset.settings.venv / "bin" / "superset"), "fab", "create-user", "--role", "Gamma",
                           "--username", user, "--firstname", "Throttle", "--lastname", "Probe",
                           "--email", f"{user}@example.org", "--password", password],
                          env=server.superset_env(superset.settings), capture_output=True, text=True, timeout=180)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    return user, password


class LoginForm:
    """A browser on a Superset's /login/ page: its session cookie and the form's CSRF token."""

    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()
        page = self.session.get(f"{url}/login/", timeout=30)
        assert page.status_code == 200, page.text[:300]
        self.csrf = re.search(r'id="csrf_token"\s+value="([^"]*)"', page.text).group(1)

    def post(self, user: str, password: str) -> requests.Response:
        return self.session.post(f"{self.url}/login/", data={"username": user, "password": password,
                                                             "csrf_token": self.csrf},
                                 allow_redirects=False, timeout=30)


def test_the_login_form_answers_429_after_the_limit_on_either_server_until_the_window_has_passed(
        superset, second_superset):
    count, window = limit_of(superset)
    user, password = new_login(superset)
    forms = [LoginForm(superset.url), LoginForm(second_superset)]
    started = time.monotonic()
    answers = [forms[i % 2].post(user, f"wrong-{i}").status_code for i in range(count + 2)]
    assert answers[:count] == [302] * count and answers[count:] == [429, 429], answers
    assert forms[1].post(user, password).status_code == 429, "the right password got through the throttle"
    assert forms[0].post(superset.settings.admin_user, "wrong").status_code == 302  # counted apart
    time.sleep(max(0.0, started + window + 1 - time.monotonic()))
    ok = forms[1].post(user, password)
    assert ok.status_code == 302 and "/login" not in ok.headers["Location"], (ok.status_code, ok.headers)
    print(f"Superset login throttle ({count} per {window} s): answers {answers} over two servers, the right "
          f"password signed in {time.monotonic() - started:.0f} s after the first attempt")


def test_failed_rest_logins_spend_the_same_allowance_and_successful_ones_do_not(superset, second_superset):
    count, window = limit_of(superset)
    user, password = new_login(superset)
    urls = [superset.url, second_superset]

    def rest_login(i: int, secret: str) -> int:
        return requests.post(f"{urls[i % 2]}/api/v1/security/login", timeout=30, json={
            "username": user, "password": secret, "provider": "db", "refresh": False}).status_code

    assert [rest_login(i, password) for i in range(count + 1)] == [200] * (count + 1)  # successes are free
    started = time.monotonic()
    answers = [rest_login(i, f"wrong-{i}") for i in range(count + 1)]
    assert answers == [401] * count + [429], answers
    assert rest_login(0, password) == 429
    time.sleep(max(0.0, started + window + 1 - time.monotonic()))
    assert rest_login(1, password) == 200
    print(f"Superset REST login: answers {answers}, then 200 after the window")


def test_the_session_cookie_is_httponly_and_samesite_lax_and_secure_only_over_https(superset):
    """Over plain HTTP (the services inside compose, `make run` on 127.0.0.1) the cookie must come back, so it is
    not Secure there; behind the proxy (https, ProxyFix) it is: tests/compose/test_front_door.py."""
    page = requests.get(f"{superset.url}/login/", timeout=30)
    cookie = next(c for c in page.raw.headers.getlist("Set-Cookie") if c.startswith("session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax"} <= flags and "secure" not in flags, cookie
