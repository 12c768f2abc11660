"""Each dashboard in headless Chromium (Debian's /usr/bin/chromium driven by Playwright; no browser is
downloaded): log in as the analyst, open it, wait until every chart has rendered, fail on any chart error, save a
screenshot (into ANIME_DASHBOARD_SCREENSHOT_DIR; `make screenshots` writes docs/screenshots/)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DASHBOARDS = ("anime-market", "trends-and-movers", "pipeline-health")


@pytest.fixture(scope="module")
def browser_page(superset, browser):
    from testkit.browser import login

    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    login(page, superset.url, superset.settings.analyst_user, superset.settings.analyst_password)  # as analysts see it
    yield page
    context.close()


@pytest.mark.parametrize("slug", DASHBOARDS)
def test_the_dashboard_renders_every_chart_without_an_error_in_a_real_browser(superset, browser_page, slug,
                                                                              tmp_path):
    from testkit.browser import PAINTED_PNG_BYTES, render_dashboard

    out = Path(os.environ.get("ANIME_DASHBOARD_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    shot = out / f"{slug}.png"
    (dashboard,) = [d for d in superset.client.list_all("dashboard", ["id", "slug"]) if d["slug"] == slug]
    expected = len(superset.client.request("GET", f"/api/v1/dashboard/{dashboard['id']}/charts").json()["result"])

    result = render_dashboard(browser_page, superset.url, slug, screenshot_path=str(shot))

    assert result["errors"] == [], f"{slug}: chart errors {result['errors']} (screenshot {shot})"
    assert result["charts"] == expected, f"{slug}: {result['charts']} chart containers, {expected} charts"
    assert result["rendered"] == expected, f"{slug}: {result['rendered']} of {expected} rendered ({shot})"
    assert shot.stat().st_size > PAINTED_PNG_BYTES, f"{shot} looks blank ({shot.stat().st_size} bytes)"


def test_sql_lab_opens_on_the_warehouse_and_the_analytics_schema_for_the_analyst(superset, browser_page):
    """The analyst's first visit: a tab on the warehouse database and the analytics schema, holding the first
    saved query (superset-import made it); a new tab opens there too (SQLLAB_DEFAULT_DBID, the one schema the
    role sees)."""
    from testkit.browser import sql_lab_selection

    first = sql_lab_selection(browser_page, superset.url)
    assert (first["database"], first["schema"]) == ("AnimeDashboard warehouse", "analytics"), first
    assert first["tabs"] >= 1, first

    new = sql_lab_selection(browser_page, superset.url, new_tab=True)
    assert (new["database"], new["schema"]) == ("AnimeDashboard warehouse", "analytics"), new
    assert new["tabs"] > first["tabs"], (first, new)


def test_a_dashboard_that_never_shows_its_charts_is_reported_with_the_api_call_it_waits_for(superset, browser_page):
    """The dashboard's charts call held back (never answered): the report names it, how long it waited, and what
    the page reads (what a failure under load needs to say)."""
    from testkit.browser import render_dashboard

    held = "**/api/v1/dashboard/*/charts*"
    browser_page.route(held, lambda route: None)  # the request goes out and is never answered
    try:
        with pytest.raises(RuntimeError) as info:
            render_dashboard(browser_page, superset.url, "pipeline-health", timeout_s=5)
    finally:
        browser_page.unroute(held)
        browser_page.goto("about:blank")
    report = str(info.value)
    assert "no chart of dashboard 'pipeline-health' on the page after 5 s" in report, report
    assert re.search(r"API calls unanswered: \[[^]]*'GET /api/v1/dashboard/[\w-]+/charts \(\d+ s\)'", report), report
    assert "the page reads: " in report, report
