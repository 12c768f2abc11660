"""The dashboards-as-code bundle: ``superset/assets/`` (reviewable YAML) -> the ZIP Superset imports.

The YAML is Superset's own export format (metadata.yaml, databases/, datasets/, charts/, dashboards/)
with two conveniences for review: a chart's ``query_context`` (and ``params``) may be written as a YAML
mapping, and the database's ``sqlalchemy_uri`` names no real host, database, user or password. Both are
resolved here, at import time: the URI gets the warehouse's host, port and database and the read-only
analyst role, and the analyst's password is handed to Superset beside the bundle (``passwords``), never
written into a file.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from anime_dashboard.settings import PREFIX

BUNDLE_ROOT = "anime_dashboard_assets"
MASKED_PASSWORD = "XXXXXXXXXX"  # what Superset itself writes in exports
KINDS = ("databases", "datasets", "charts", "dashboards", "queries")
# SQL Lab's saved queries (queries/, Superset's own folder name for them) are not in the bundle the admin
# imports: Superset shows a saved query only to the user who created it, so the analyst login imports them
# (saved_queries_bundle, POST /api/v1/saved_query/import/) and owns them.
ADMIN_KINDS = ("databases", "datasets", "charts", "dashboards")


class AssetError(ValueError):
    """The YAML under superset/assets is inconsistent; the message names the file and what is wrong."""


def assets_dir() -> Path:
    override = os.environ.get(PREFIX + "SUPERSET_ASSETS")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "superset" / "assets"


@dataclass(frozen=True)
class Warehouse:
    """Where Superset reaches the warehouse, as the read-only analyst role."""

    host: str
    port: int
    dbname: str
    user: str
    password: str
    run_async: bool = False  # SQL Lab through Superset's Celery worker (docker-compose's superset-worker)

    def uri(self, password: str = MASKED_PASSWORD) -> str:
        return (f"postgresql+psycopg2://{quote(self.user, safe='')}:{password}"
                f"@{self.host}:{self.port}/{quote(self.dbname, safe='')}")


def load_assets(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every YAML file under the assets directory, keyed by its path relative to it (``charts/x.yaml``)."""
    directory = directory or assets_dir()
    if not (directory / "metadata.yaml").is_file():
        raise AssetError(f"{directory} has no metadata.yaml: is it the superset/assets directory?")
    configs = {}
    for path in sorted(directory.rglob("*.yaml")):
        rel = path.relative_to(directory).as_posix()
        try:
            configs[rel] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise AssetError(f"{rel}: not valid YAML ({exc})") from exc
    return configs


def check_assets(configs: dict[str, dict[str, Any]]) -> None:
    """References resolve, uuids are unique, every chart carries a query_context; AssetError otherwise."""
    seen: dict[str, str] = {}
    by_kind: dict[str, dict[str, dict]] = {k: {} for k in KINDS}
    for rel, cfg in configs.items():
        kind = rel.split("/", 1)[0]
        if kind == "metadata.yaml":
            continue
        if kind not in KINDS:
            raise AssetError(f"{rel}: unknown asset folder {kind!r} (expected one of {', '.join(KINDS)})")
        uuid = str(cfg.get("uuid") or "")
        if not uuid:
            raise AssetError(f"{rel}: no uuid")
        if uuid in seen:
            raise AssetError(f"{rel}: uuid {uuid} is also used by {seen[uuid]}")
        seen[uuid] = rel
        by_kind[kind][uuid] = cfg
    for rel, cfg in configs.items():
        if rel.startswith(("datasets/", "queries/")) and str(cfg.get("database_uuid")) not in by_kind["databases"]:
            raise AssetError(f"{rel}: database_uuid {cfg.get('database_uuid')} is not in databases/")
        if rel.startswith(("datasets/", "queries/")) and cfg.get("schema") != "analytics":
            raise AssetError(f"{rel}: {rel.split('/')[0]} must sit on the analytics schema, not {cfg.get('schema')!r}")
        if rel.startswith("charts/"):
            if str(cfg.get("dataset_uuid")) not in by_kind["datasets"]:
                raise AssetError(f"{rel}: dataset_uuid {cfg.get('dataset_uuid')} is not in datasets/")
            if not cfg.get("query_context"):
                raise AssetError(f"{rel}: no query_context (GET /api/v1/chart/{{id}}/data/ needs one)")
        if rel.startswith("dashboards/"):
            for uuid in _dashboard_chart_uuids(cfg):
                if uuid not in by_kind["charts"]:
                    raise AssetError(f"{rel}: its layout shows chart {uuid}, which is not in charts/")


def _dashboard_chart_uuids(dashboard: dict[str, Any]) -> list[str]:
    return [str(node["meta"]["uuid"]) for node in (dashboard.get("position") or {}).values()
            if isinstance(node, dict) and node.get("type") == "CHART" and "uuid" in node.get("meta", {})]


def _serialise(rel: str, cfg: dict[str, Any], warehouse: Warehouse) -> dict[str, Any]:
    cfg = dict(cfg)
    if rel.startswith("databases/"):
        cfg["sqlalchemy_uri"] = warehouse.uri()
        cfg["allow_run_async"] = warehouse.run_async
    if rel.startswith("charts/"):
        if isinstance(cfg.get("query_context"), (dict, list)):
            cfg["query_context"] = json.dumps(cfg["query_context"])
    return cfg


def build_bundle(warehouse: Warehouse, directory: Path | None = None) -> tuple[bytes, dict[str, str]]:
    """The import ZIP and the ``passwords`` map to send with it (POST /api/v1/assets/import/): everything
    but the saved queries."""
    return _bundle(warehouse, directory, ADMIN_KINDS, "assets")


def saved_queries_bundle(warehouse: Warehouse, directory: Path | None = None) -> bytes:
    """The ZIP of the saved queries (with the database they run on, which must exist already) for
    POST /api/v1/saved_query/import/, sent as the analyst: no password goes with it."""
    return _bundle(warehouse, directory, ("databases", "queries"), "SavedQuery")[0]


def _bundle(warehouse: Warehouse, directory: Path | None, kinds: tuple[str, ...],
            bundle_type: str) -> tuple[bytes, dict[str, str]]:
    configs = load_assets(directory)
    check_assets(configs)
    configs = {rel: cfg for rel, cfg in configs.items() if rel == "metadata.yaml" or rel.split("/", 1)[0] in kinds}
    configs["metadata.yaml"] = {
        **configs["metadata.yaml"],
        "type": bundle_type,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, cfg in configs.items():
            text = yaml.safe_dump(_serialise(rel, cfg, warehouse), sort_keys=False, allow_unicode=True)
            zf.writestr(f"{BUNDLE_ROOT}/{rel}", text)
    passwords = {rel: warehouse.password for rel in configs if rel.startswith("databases/")}
    return buf.getvalue(), passwords


def warehouse_from_env() -> Warehouse:
    """The warehouse as Superset should reach it: host/port/database of AIRFLOW_CONN_WAREHOUSE (or
    ``ANIME_DASHBOARD_SUPERSET_WAREHOUSE_HOST``/``_PORT`` when Superset sees it under another name), user
    and password of the analyst role (``ANIME_DASHBOARD_ANALYST_USER``/``_PASSWORD``); SQL Lab runs
    asynchronously when ``ANIME_DASHBOARD_SUPERSET_ASYNC_QUERIES=true`` (a Celery worker is running)."""
    from anime_dashboard.warehouse.db import connection_params
    from anime_dashboard.warehouse.roles import analyst_settings

    params = connection_params()
    analyst = analyst_settings()
    return Warehouse(
        host=os.environ.get(PREFIX + "SUPERSET_WAREHOUSE_HOST") or params.get("host", "127.0.0.1"),
        port=int(os.environ.get(PREFIX + "SUPERSET_WAREHOUSE_PORT") or params.get("port", 5432)),
        dbname=params["dbname"],
        user=analyst["role"],
        password=analyst["password"],
        run_async=(os.environ.get(PREFIX + "SUPERSET_ASYNC_QUERIES") or "false").strip().lower() == "true",
    )
