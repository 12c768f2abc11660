"""Each dashboard in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; no browser is
downloaded): log in, open it, wait until every chart has rendered, fail on any chart error, save a
screenshot (into ANIME_DASHBOARD_SCREENSHOT_DIR; `make screenshots` writes docs/screenshots/)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DASHBOARDS = ("anime-market", "trends-and-movers", "pipeline-health")


@pytest.fixture(scope="module")
def browser_page(superset):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed at /usr/bin/chromium: `apt-get install chromium` "
                    "(make install does it when it can); the browser test needs it")
    from playwright.sync_api import sync_playwright

    from superset_browser import launch, login

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        login(page, superset.url, superset.settings.admin_user, superset.settings.admin_password)
        yield page
        browser.close()


@pytest.mark.parametrize("slug", DASHBOARDS)
def test_the_dashboard_renders_every_chart_without_an_error_in_a_real_browser(superset, browser_page, slug,
                                                                              tmp_path):
    from superset_browser import render_dashboard

    out = Path(os.environ.get("ANIME_DASHBOARD_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    shot = out / f"{slug}.png"
    (dashboard,) = [d for d in superset.client.list_all("dashboard", ["id", "slug"]) if d["slug"] == slug]
    expected = len(superset.client.request("GET", f"/api/v1/dashboard/{dashboard['id']}/charts").json()["result"])

    result = render_dashboard(browser_page, superset.url, slug, screenshot_path=str(shot))

    assert result["errors"] == [], f"{slug}: chart errors {result['errors']} (screenshot {shot})"
    assert result["charts"] == expected, f"{slug}: {result['charts']} chart containers, {expected} charts"
    assert result["rendered"] == expected, f"{slug}: {result['rendered']} of {expected} rendered ({shot})"
    # a page with its charts painted is 140-320 kB as PNG; a blank grid (a capture before paint) ~50 kB
    assert shot.stat().st_size > 100_000, f"{shot} looks blank ({shot.stat().st_size} bytes)"
