"""Each dashboard in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; no browser is
downloaded): log in, open it, wait until every chart has rendered, fail on any chart error, save a
screenshot (into ANIME_DASHBOARD_SCREENSHOT_DIR; `make screenshots` writes docs/screenshots/)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

DASHBOARDS = ("anime-market", "trends-and-movers", "pipeline-health")


@pytest.fixture(scope="module")
def browser_page(superset, browser):
    from superset_browser import login

    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    login(page, superset.url, superset.settings.admin_user, superset.settings.admin_password)
    yield page
    context.close()


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
