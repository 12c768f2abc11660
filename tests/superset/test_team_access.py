"""A team on one Superset: the analyst's and the pipeline's logins get what their job needs and are refused the
rest (superset/roles/*.yaml, applied by superset-bootstrap), and SQL Lab's saved queries run as the analyst.

Each refusal is checked beside the admin doing the same thing, so a 403 means "not allowed", not "no such
endpoint".
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from anime_dashboard.dashboards.assets import assets_dir
from anime_dashboard.dashboards.cache import refresh_caches

REFUSED = (401, 403)  # Superset answers a missing permission with 403 (401 only for no login at all)


def status(client, method: str, path: str, **kwargs) -> tuple[int, str]:
    """The HTTP status of one call (errors are answers here), and the start of its body."""
    resp = client.send(method, path, **kwargs)
    return resp.status_code, resp.text[:300]


def a_dataset(client, table_name: str = "market_daily") -> dict:
    (dataset,) = [d for d in client.list_all("dataset", ["id", "table_name"]) if d["table_name"] == table_name]
    return dataset


def test_the_analyst_explores_saves_a_chart_and_a_dashboard_runs_sql_lab_and_downloads_csv(superset):
    analyst = superset.analyst
    dataset = a_dataset(analyst)

    code, body = status(analyst, "GET", "/api/v1/explore/", params={"datasource_id": dataset["id"],
                                                                     "datasource_type": "table"})
    assert code == 200, body

    chart = analyst.request("POST", "/api/v1/chart/", ok=(201,), json={
        "slice_name": "my titles per day", "viz_type": "table", "datasource_id": dataset["id"],
        "datasource_type": "table",
        "params": json.dumps({"viz_type": "table", "query_mode": "raw", "all_columns": ["snapshot_date", "titles"],
                              "row_limit": 10})}).json()
    dashboard = analyst.request("POST", "/api/v1/dashboard/", ok=(201,),
                                json={"dashboard_title": "my dashboard"}).json()
    try:
        mine = {c["id"] for c in analyst.list_all("chart", ["id"])}
        assert chart["id"] in mine
        csv = analyst.request("POST", "/api/v1/chart/data", json={
            "datasource": {"id": dataset["id"], "type": "table"}, "result_format": "csv", "result_type": "full",
            "queries": [{"columns": ["snapshot_type", "snapshot_date", "titles"], "row_limit": 5}]})
        assert csv.headers["Content-Type"].startswith("text/csv"), csv.headers
        header, *lines = csv.text.splitlines()  # the columns' verbose names
        assert header.lower().replace(" ", "_") == "snapshot_type,snapshot_date,titles" and len(lines) == 5, csv.text
    finally:
        analyst.request("DELETE", f"/api/v1/chart/{chart['id']}")
        analyst.request("DELETE", f"/api/v1/dashboard/{dashboard['id']}")

    sql = analyst.execute_sql(superset.database_id, "SELECT snapshot_type, count(*) AS days "
                                                    "FROM analytics.market_daily GROUP BY 1 ORDER BY 1")
    assert sql.status_code == 200, sql.text
    assert [r["snapshot_type"] for r in sql.json()["data"]] == ["airing", "movies", "top", "upcoming"]


def test_the_analyst_is_refused_database_connections_users_roles_and_dataset_sql(superset):
    admin, analyst = superset.client, superset.analyst
    db_path = f"/api/v1/database/{superset.database_id}"
    dataset = a_dataset(admin)
    new_database = {"database_name": "mine", "sqlalchemy_uri": "postgresql+psycopg2://127.0.0.1:1/x"}
    refusals = {
        "edit the warehouse connection": ("PUT", db_path, {"json": {"database_name": "renamed"}}),
        "create a database": ("POST", "/api/v1/database/", {"json": new_database}),
        "list users": ("GET", "/api/v1/security/users/", {}),
        "list roles": ("GET", "/api/v1/security/roles/", {}),
        "change a dataset's SQL": ("PUT", f"/api/v1/dataset/{dataset['id']}", {"json": {"sql": "SELECT 1"}}),
        "test a connection": ("POST", "/api/v1/database/test_connection/", {"json": new_database}),
    }
    seen = {}
    for what, (method, path, kwargs) in refusals.items():
        code, body = status(analyst, method, path, **kwargs)
        assert code in REFUSED, f"the analyst could {what}: HTTP {code} {body}"
        seen[what] = code
    # the same reads as the admin work: the endpoints exist
    for what in ("list users", "list roles"):
        method, path, kwargs = refusals[what]
        assert status(admin, method, path, **kwargs)[0] == 200, what
    db = admin.request("GET", db_path).json()["result"]
    assert db["database_name"] == "AnimeDashboard warehouse"
    assert admin.request("GET", f"/api/v1/dataset/{dataset['id']}").json()["result"]["sql"] in (None, "")
    assert "mine" not in {d["database_name"] for d in admin.list_all("database", ["database_name"])}
    print(f"analyst refused: {seen}")


def test_the_service_login_refreshes_the_caches_and_is_refused_sql_lab_users_and_databases(superset):
    service = superset.service
    summary = refresh_caches(service)
    admin_charts = [c for c in superset.client.list_all("chart", ["id", "datasource_id"])]
    assert summary["failures"] == [] and summary["datasets_invalidated"] > 0
    assert summary["charts_warmed"] >= len(admin_charts), (summary, len(admin_charts))

    sql = service.execute_sql(superset.database_id, "SELECT 1")
    assert sql.status_code in REFUSED, sql.text
    for method, path, kwargs in (("GET", "/api/v1/security/users/", {}),
                                 ("PUT", f"/api/v1/database/{superset.database_id}",
                                  {"json": {"database_name": "renamed"}}),
                                 ("POST", "/api/v1/chart/", {"json": {"slice_name": "x", "viz_type": "table"}})):
        code, body = status(service, method, path, **kwargs)
        assert code in REFUSED, f"the service login got HTTP {code} on {method} {path}: {body}"


def saved_query_files() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted((assets_dir() / "queries").glob("*.yaml"))}


def test_every_saved_query_is_the_analysts_and_returns_rows_when_run_as_the_analyst(superset):
    files = saved_query_files()
    assert len(files) >= 5
    listed = superset.analyst.list_all("saved_query", ["id", "label", "sql", "schema", "database.id"])
    assert sorted(q["label"] for q in listed) == sorted(f["label"] for f in files.values())
    for query in listed:
        assert query["schema"] == "analytics" and query["database"]["id"] == superset.database_id
        resp = superset.analyst.execute_sql(superset.database_id, query["sql"])
        assert resp.status_code == 200, f"{query['label']}: {resp.text[:500]}"
        assert resp.json()["data"], f"{query['label']} returned no rows"
        print(f"{query['label']}: {len(resp.json()['data'])} rows")


def _metadata(superset) -> sqlite3.Connection:
    return sqlite3.connect(Path(superset.settings.home) / "superset.db")


ROLE_PERMISSION = """SELECT pvr.id FROM ab_permission_view_role pvr
    JOIN ab_role r ON r.id = pvr.role_id JOIN ab_permission_view pv ON pv.id = pvr.permission_view_id
    JOIN ab_permission p ON p.id = pv.permission_id JOIN ab_view_menu v ON v.id = pv.view_menu_id
    WHERE r.name = ? AND p.name = ? AND v.name = ?"""


def test_bootstrap_again_duplicates_nothing_and_puts_a_hand_edited_role_right(superset):
    from anime_dashboard.dashboards import server

    con = _metadata(superset)
    try:
        # by hand, as in Settings > List Roles: SQL Lab taken from Analyst, database editing given to it
        (row,) = con.execute(ROLE_PERMISSION, ("Analyst", "can_execute_sql_query", "SQLLab")).fetchall()
        con.execute("DELETE FROM ab_permission_view_role WHERE id = ?", row)
        (extra,) = con.execute("""SELECT pv.id FROM ab_permission_view pv JOIN ab_permission p ON p.id = pv.permission_id
            JOIN ab_view_menu v ON v.id = pv.view_menu_id WHERE p.name = 'can_write' AND v.name = 'Database'""").fetchone()
        con.execute("INSERT INTO ab_permission_view_role (permission_view_id, role_id) "
                    "SELECT ?, id FROM ab_role WHERE name = 'Analyst'", (extra,))
        con.commit()
        before = superset.analyst.execute_sql(superset.database_id, "SELECT 1 AS one")
        assert before.status_code in REFUSED, "the hand edit did not take SQL Lab away"

        steps = server.bootstrap(superset.settings)

        assert any(line.startswith("role Analyst:") and "(1 added, 1 removed)" in line for line in steps), steps
        counts = dict(con.execute("SELECT name, count(*) FROM ab_role GROUP BY name").fetchall())
        assert counts["Analyst"] == 1 and counts["Pipeline"] == 1
        users = dict(con.execute("SELECT username, count(*) FROM ab_user GROUP BY username").fetchall())
        s = superset.settings
        assert [users[u] for u in (s.admin_user, s.analyst_user, s.service_user)] == [1, 1, 1], users
        assert con.execute(ROLE_PERMISSION, ("Analyst", "can_write", "Database")).fetchall() == []
    finally:
        con.close()
    after = superset.analyst.execute_sql(superset.database_id, "SELECT 1 AS one")
    assert after.status_code == 200, after.text
    roles = [r for r, in _metadata(superset).execute(
        "SELECT r.name FROM ab_user u JOIN ab_user_role ur ON ur.user_id = u.id JOIN ab_role r ON r.id = ur.role_id "
        "WHERE u.username = ?", (superset.settings.analyst_user,))]
    assert roles == ["Analyst"]


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "superset" / "roles").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_role_file_names_the_warehouse_database_of_the_assets(path):
    (database,) = [yaml.safe_load(p.read_text()) for p in (assets_dir() / "databases").glob("*.yaml")]
    views = yaml.safe_load(path.read_text())["permissions"]
    data = [v for v, perms in views.items() if "schema_access" in perms]
    name = database["database_name"]
    assert f"[{name}].[analytics]" in data, data  # the datasets'
    assert set(data) <= {f"[{name}].[analytics]", f"[{name}].[{{warehouse_db}}].[analytics]"}, data  # + SQL Lab's
