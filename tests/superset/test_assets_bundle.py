"""The assets bundle without a Superset: references checked, secrets kept out of the files."""
from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from anime_dashboard.dashboards.assets import (AssetError, Warehouse, build_bundle, check_assets, load_assets,
                                              saved_queries_bundle)

ASSETS = Path(__file__).resolve().parents[2] / "superset" / "assets"
WAREHOUSE = Warehouse(host="db.internal", port=6543, dbname="wh", user="reader", password="s3cret-Pa55word")


def test_the_committed_assets_are_consistent_and_every_chart_has_a_query_context():
    configs = load_assets(ASSETS)
    check_assets(configs)
    charts = [c for rel, c in configs.items() if rel.startswith("charts/")]
    assert charts and all(c["query_context"] for c in charts)


def test_the_bundle_points_at_the_warehouse_as_the_analyst_and_carries_no_password():
    bundle, passwords = build_bundle(WAREHOUSE, ASSETS)
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        texts = {n: zf.read(n).decode() for n in zf.namelist()}
    assert all(n.startswith("anime_dashboard_assets/") for n in texts)
    assert not any(WAREHOUSE.password in t for t in texts.values())
    (db_file,) = [n for n in texts if "/databases/" in n]
    uri = yaml.safe_load(texts[db_file])["sqlalchemy_uri"]
    assert uri == "postgresql+psycopg2://reader:XXXXXXXXXX@db.internal:6543/wh"
    assert passwords == {db_file.split("/", 1)[1]: WAREHOUSE.password}


def _names(bundle: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        return {n.split("/", 1)[1]: zf.read(n).decode() for n in zf.namelist()}


def test_the_saved_queries_go_in_a_bundle_of_their_own_without_the_password_not_in_the_admins():
    admin = _names(build_bundle(WAREHOUSE, ASSETS)[0])
    assert not any(n.startswith("queries/") for n in admin)
    assert yaml.safe_load(admin["metadata.yaml"])["type"] == "assets"
    analyst = _names(saved_queries_bundle(WAREHOUSE, ASSETS))
    queries = sorted(n for n in analyst if n.startswith("queries/"))
    assert len(queries) >= 5 and set(analyst) == {"metadata.yaml", *queries} | {n for n in admin
                                                                               if n.startswith("databases/")}
    assert yaml.safe_load(analyst["metadata.yaml"])["type"] == "SavedQuery"
    assert not any(WAREHOUSE.password in t for t in analyst.values())
    for name in queries:
        query = yaml.safe_load(analyst[name])
        assert query["schema"] == "analytics" and "analytics." in query["sql"] and query["label"], name


def _copy(tmp_path) -> Path:
    shutil.copytree(ASSETS, tmp_path / "a")
    return tmp_path / "a"


def _edit(path: Path, **changes):
    cfg = yaml.safe_load(path.read_text())
    cfg.update(changes)
    path.write_text(yaml.safe_dump(cfg))


@pytest.mark.parametrize("case, message", [
    ("chart without query_context", "no query_context"),
    ("chart on a missing dataset", "is not in datasets/"),
    ("dataset outside analytics", "analytics schema"),
    ("saved query outside analytics", "analytics schema"),
    ("saved query on a missing database", "is not in databases/"),
    ("duplicate uuid", "is also used by"),
])
def test_a_broken_asset_is_refused_with_a_message_naming_the_file(tmp_path, case, message):
    root = _copy(tmp_path)
    chart, other_chart = sorted((root / "charts").glob("*.yaml"))[:2]
    dataset = sorted((root / "datasets").rglob("*.yaml"))[0]
    if case == "chart without query_context":
        _edit(chart, query_context=None)
    elif case == "chart on a missing dataset":
        _edit(chart, dataset_uuid="00000000-0000-0000-0000-000000000000")
    elif case == "dataset outside analytics":
        _edit(dataset, schema="core")
    elif case == "saved query outside analytics":
        _edit(sorted((root / "queries").glob("*.yaml"))[0], schema="core")
    elif case == "saved query on a missing database":
        _edit(sorted((root / "queries").glob("*.yaml"))[0], database_uuid="00000000-0000-0000-0000-000000000000")
    else:
        _edit(other_chart, uuid=yaml.safe_load(chart.read_text())["uuid"])
    with pytest.raises(AssetError, match=message) as exc:
        check_assets(load_assets(root))
    assert ".yaml" in str(exc.value)
