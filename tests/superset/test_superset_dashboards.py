"""Dashboards as code against a real Superset: import, chart data vs. the views, Redis cache, SQL Lab,
fresh data after the analytics refresh."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import psycopg2
import pytest
import redis
import yaml

from chart_sql import canonical, chart_query, rows, to_sql
from support import CHARTS_ON_THE_CLOCK, PG

ASSETS = Path(__file__).resolve().parents[2] / "superset" / "assets"


def charts_with_queries(superset):
    """(chart detail, expected SQL, params, ordered?) for every chart of the warehouse database."""
    client = superset.client
    out = []
    for c in client.list_all("chart", ["id"]):
        chart = client.request("GET", f"/api/v1/chart/{c['id']}").json()["result"]
        dataset = client.request("GET", f"/api/v1/dataset/{chart['datasource_id']}").json()["result"]
        assert dataset["database"]["id"] == superset.database_id
        q = chart_query(chart)
        saved = {m["metric_name"]: m["expression"] for m in dataset["metrics"]}
        text, params = to_sql(q, dataset["schema"], dataset["table_name"], saved)
        out.append((chart, text, params, bool(q.get("orderby"))))
    return out


def direct(superset, text, params):
    conn = psycopg2.connect(dbname=superset.warehouse_db, **PG)
    try:
        with conn.cursor() as cur:
            cur.execute(text, params)
            names = [d.name for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        conn.close()


def counts(client):
    return {r: sorted((x["id"], str(x.get("uuid", ""))) for x in client.list_all(r, ["id", "uuid"]))
            for r in ("database", "dataset", "chart", "dashboard")}


def test_the_assets_define_three_dashboards_on_analytics_views_only(superset):
    client = superset.client
    dashboards = {d["slug"]: d for d in client.list_all("dashboard", ["id", "slug", "dashboard_title"])}
    assert {"anime-market", "trends-and-movers", "pipeline-health"} <= set(dashboards)
    for d in client.list_all("dataset", ["id", "schema", "table_name"]):
        assert d["schema"] == "analytics", d
    for slug in ("anime-market", "trends-and-movers", "pipeline-health"):
        charts = client.request("GET", f"/api/v1/dashboard/{dashboards[slug]['id']}/charts").json()["result"]
        assert len(charts) >= 3, (slug, len(charts))


def test_importing_twice_creates_nothing_new_and_an_edited_chart_yaml_updates_it_in_place(
        superset, tmp_path, monkeypatch):
    from anime_dashboard import cli

    client = superset.client
    before = counts(client)
    assert cli.main(["superset-import"]) == 0
    assert counts(client) == before  # same ids, same uuids: nothing duplicated

    edited = tmp_path / "assets"
    shutil.copytree(ASSETS, edited)
    chart_file = sorted((edited / "charts").glob("*.yaml"))[0]
    chart = yaml.safe_load(chart_file.read_text())
    chart["slice_name"] = chart["slice_name"] + " (edited)"
    chart["description"] = "edited in YAML"
    chart_file.write_text(yaml.safe_dump(chart, sort_keys=False))
    dataset_file = sorted((edited / "datasets").rglob("*.yaml"))[0]
    dataset = yaml.safe_load(dataset_file.read_text())
    dataset["cache_timeout"] = 4321
    dataset_file.write_text(yaml.safe_dump(dataset, sort_keys=False))
    monkeypatch.setenv("ANIME_DASHBOARD_SUPERSET_ASSETS", str(edited))
    try:
        assert cli.main(["superset-import"]) == 0
        assert counts(client) == before
        (found,) = [c for c in client.list_all("chart", ["id", "uuid", "slice_name", "description"])
                    if c["uuid"] == str(chart["uuid"])]
        assert found["slice_name"] == chart["slice_name"] and found["description"] == "edited in YAML"
        (ds,) = [d for d in client.list_all("dataset", ["id", "uuid"]) if d["uuid"] == str(dataset["uuid"])]
        assert client.request("GET", f"/api/v1/dataset/{ds['id']}").json()["result"]["cache_timeout"] == 4321
    finally:
        monkeypatch.delenv("ANIME_DASHBOARD_SUPERSET_ASSETS")
        assert cli.main(["superset-import"]) == 0
    (restored,) = [c for c in client.list_all("chart", ["uuid", "slice_name"]) if c["uuid"] == str(chart["uuid"])]
    assert not restored["slice_name"].endswith("(edited)")


def test_every_chart_returns_the_rows_of_a_direct_query_of_its_view_and_the_repeat_comes_from_redis(superset):
    r = redis.Redis.from_url(os.environ.get("ANIME_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0"))
    checked = 0
    for chart, text, params, ordered in charts_with_queries(superset):
        expected = direct(superset, text, params)
        first = superset.client.chart_data(chart["id"], force=True)
        assert first["status"] == "success", (chart["slice_name"], first.get("error"))
        assert expected, f"{chart['slice_name']}: the test data leaves its view empty, so nothing is proven"
        assert rows(first["data"], ordered) == rows(expected, ordered), chart["slice_name"]
        second = superset.client.chart_data(chart["id"])
        assert second["is_cached"] is True, chart["slice_name"]
        assert rows(second["data"], ordered) == rows(expected, ordered)
        assert r.exists(f"{superset.cache_prefix}_data_{second['cache_key']}"), chart["slice_name"]
        checked += 1
    assert checked >= 12


def test_the_charts_comparing_days_show_no_seam_at_the_real_day(superset):
    """The warehouse holds real snapshots of yesterday and synthetic history before: in the data Superset
    serves the dashboards, the real day is a day like any other."""
    import statistics
    from collections import defaultdict
    from datetime import date, datetime, timedelta, timezone

    from pipeline_runs import TODAY

    real_day = TODAY - timedelta(days=1)
    charts = {c["slice_name"]: c["id"] for c in superset.client.list_all("chart", ["id", "slice_name"])}

    def data(name):
        result = superset.client.chart_data(charts[name], force=True)
        assert result["status"] == "success", (name, result.get("error"))
        return result["data"]

    def day(value) -> date:  # Superset sends temporal columns as epoch milliseconds
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc).date() if isinstance(value, (int, float)) \
            else date.fromisoformat(str(value)[:10])

    def assert_no_seam(series: dict, what: str, resolution: float):
        """The real day's step is at most twice the median step of the synthetic days (give or take the
        view's rounding)."""
        days = sorted(series)
        steps = {b: abs(series[b] - series[a]) for a, b in zip(days, days[1:])}
        others = [v for d, v in steps.items() if d != real_day]
        assert real_day in steps and len(others) >= 10, (what, sorted(steps))
        assert steps[real_day] <= 2 * statistics.median(others) + resolution, (what, steps[real_day], others)

    changes = defaultdict(int)
    for row in data("Titles entering and leaving the lists"):
        changes[day(row["snapshot_date"])] += row["changed_titles"]
    synthetic_days = [real_day - timedelta(days=i) for i in range(1, 13)]
    assert changes[real_day] <= max(2, 2 * statistics.median(changes[d] for d in synthetic_days)), dict(changes)
    for chart, metric, resolution in (("Average score per list", "list_avg_score", 0.001),  # avg_score: 3 decimals
                                      ("Members per list", "list_members", 0)):
        per_list = defaultdict(dict)
        for row in data(chart):
            if row[metric] is not None:
                per_list[row["list_version"]][day(row["snapshot_date"])] = float(row[metric])
        assert set(per_list) == {"top v1", "airing v1", "upcoming v1", "movies v1"} - (
            {"upcoming v1"} if metric == "list_avg_score" else set()), chart
        for list_version, series in per_list.items():
            assert_no_seam(series, f"{chart}: {list_version}", resolution)
    climbers = data("Biggest climbers since the previous snapshot")
    moved = [r for r in climbers if r["position_change"]][:10]
    assert moved and all(r["members_change"] for r in moved), moved  # moved with their members, not +0


def test_sql_lab_reads_analytics_but_refuses_writes_and_the_raw_tables(superset):
    client = superset.client
    db = client.request("GET", f"/api/v1/database/{superset.database_id}/connection").json()["result"]
    assert db["expose_in_sqllab"] is True
    assert (db["allow_dml"], db["allow_ctas"], db["allow_cvas"], db["allow_file_upload"]) == (False,) * 4
    assert db["sqlalchemy_uri"].startswith(f"postgresql+psycopg2://{os.environ['ANIME_DASHBOARD_ANALYST_USER']}:")

    ok = client.execute_sql(superset.database_id, "SELECT snapshot_type, titles FROM analytics.snapshot_catalog "
                                                  "WHERE is_latest ORDER BY snapshot_type")
    assert ok.status_code == 200, ok.text
    assert [r["snapshot_type"] for r in ok.json()["data"]] == ["airing", "movies", "top", "upcoming"]

    delete = client.execute_sql(superset.database_id, "DELETE FROM core.anime_snapshots")
    assert delete.status_code >= 400 and "DML_NOT_ALLOWED_ERROR" in delete.text, delete.text
    raw = client.execute_sql(superset.database_id, "SELECT count(*) FROM core.anime_snapshots")
    assert raw.status_code >= 400 and "permission denied for schema core" in raw.text, raw.text
    # even past Superset's own check, the role cannot write: a writable CTE is refused by Postgres
    sneaky = client.execute_sql(superset.database_id, "WITH gone AS (DELETE FROM core.rejects RETURNING 1) "
                                                      "SELECT count(*) FROM gone")
    assert sneaky.status_code >= 400, sneaky.text
    conn = psycopg2.connect(dbname=superset.warehouse_db, **PG)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM core.anime_snapshots")
        assert cur.fetchone()[0] > 0
    conn.close()


def test_the_admin_password_comes_from_the_environment_and_admin_admin_is_refused(superset):
    import requests

    resp = requests.post(f"{superset.url}/api/v1/security/login",
                         json={"username": "admin", "password": "admin", "provider": "db"}, timeout=30)
    assert resp.status_code == 401
    from anime_dashboard.dashboards import server

    os.environ["ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD"], saved = "admin", os.environ[
        "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD"]
    try:
        with pytest.raises(server.SupersetSetupError, match="too weak"):
            server.settings()
    finally:
        os.environ["ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD"] = saved


def test_after_a_new_snapshot_lands_and_the_refresh_runs_every_chart_shows_it_from_the_cache_without_force(
        superset, dags, replay, monkeypatch):
    from datetime import datetime, timezone

    checks = charts_with_queries(superset)
    for chart, *_ in checks:  # every chart cached with today's data missing
        superset.client.chart_data(chart["id"], force=True)

    run = dags["jikan_movies"].test(logical_date=datetime.now(timezone.utc))
    assert run.state == "success"

    stale = [chart["slice_name"] for chart, text, params, ordered in checks
             if rows(superset.client.chart_data(chart["id"])["data"], ordered)
             != rows(direct(superset, text, params), ordered)]
    assert stale, "no chart went stale: the new snapshot changed nothing a dashboard shows"

    s = superset.settings
    monkeypatch.setenv("AIRFLOW_CONN_SUPERSET", json.dumps(
        {"conn_type": "http", "host": s.host, "port": s.port, "schema": "http",
         "login": s.service_user, "password": s.service_password}))  # the service login, as make run sets it
    refresh = dags["analytics_refresh"].test()
    assert refresh.state == "success"
    ti_states = {ti.task_id: ti.state for ti in refresh.get_task_instances()}
    assert ti_states == {"refresh_superset_cache": "success"}

    for chart, text, params, ordered in checks:
        result = superset.client.chart_data(chart["id"])  # no force
        assert result["is_cached"] is True, chart["slice_name"]
        fresh = direct(superset, text, params)
        if chart["slice_name"] in CHARTS_ON_THE_CLOCK:  # the age as the refresh computed it: never above now's
            assert [list(r) for r in result["data"]] == [list(r) for r in fresh], chart["slice_name"]
            assert all(canonical(c[k]) <= canonical(f[k]) for c, f in zip(result["data"], fresh) for k in c), \
                (result["data"], fresh)
            continue
        assert rows(result["data"], ordered) == rows(fresh, ordered), chart["slice_name"]
