"""The databases a backup holds: the warehouse, and Superset's and Airflow's metadata where they are.

* ``warehouse``: the Airflow connection ``warehouse`` (``AIRFLOW_CONN_WAREHOUSE``), always;
* ``superset``: ``ANIME_DASHBOARD_SUPERSET_DATABASE_URI`` (compose: Postgres), or the SQLite file in
  ``ANIME_DASHBOARD_SUPERSET_HOME`` that ``make run`` uses, when it exists;
* ``airflow``: ``ANIME_DASHBOARD_AIRFLOW_DATABASE_URI`` (compose: Postgres; ``make run``: its SQLite file), which
  both set to Airflow's own ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``.

PostgreSQL databases go through ``pg_dump`` (:mod:`.postgres`), SQLite files through SQLite's online backup
API (:mod:`.sqlite`): each engine's own tool, no format of ours.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from anime_dashboard.settings import PREFIX
from anime_dashboard.warehouse.db import sql_dir

log = logging.getLogger(__name__)


class BackupError(RuntimeError):
    """A backup, verification or restore could not be done; the message says what and where."""


def sql(name: str) -> str:
    """The text of ``sql/backup/<name>.sql``."""
    return (sql_dir() / "backup" / f"{name}.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Database:
    role: str  # warehouse | superset | airflow
    engine: str  # postgresql | sqlite
    params: dict  # postgresql: psycopg2 keywords, dbname included; sqlite: {"path": ...}

    @property
    def file(self) -> str:
        """The name of its file in a backup."""
        return f"{self.role}.{'dump' if self.engine == 'postgresql' else 'sqlite'}"

    def where(self) -> str:
        """Where it is, without a password."""
        if self.engine == "sqlite":
            return self.params["path"]
        p = self.params
        return f"postgresql://{p.get('user', '')}@{p.get('host', '')}:{p.get('port', 5432)}/{p.get('dbname', '')}"


def from_url(role: str, url: str, *, existing: bool = True) -> Database | None:
    """A SQLAlchemy URL (``postgresql+psycopg2://...``, ``sqlite:////path``) as a Database; with ``existing``,
    None for a SQLite file that does not exist (nothing to back up)."""
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite":
        path = Path(unquote(parsed.path[1:] if parsed.path.startswith("//") else parsed.path))
        return Database(role, "sqlite", {"path": str(path)}) if path.is_file() or not existing else None
    if scheme not in ("postgresql", "postgres"):
        raise BackupError(f"{role}'s database {parsed.scheme}://{parsed.hostname}/... is neither PostgreSQL nor "
                          "SQLite: it cannot be backed up")
    params = {"host": parsed.hostname or "127.0.0.1", "port": parsed.port or 5432,
              "user": unquote(parsed.username) if parsed.username else None,
              "password": unquote(parsed.password) if parsed.password else None,
              "dbname": parsed.path.lstrip("/") or None}
    for key, values in parse_qs(parsed.query).items():
        if key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "options"):
            params[key] = values[-1]
    return Database(role, "postgresql", {k: v for k, v in params.items() if v is not None})


def warehouse() -> Database:
    from anime_dashboard.warehouse.db import connection_params

    params = {k: v for k, v in connection_params().items() if k != "application_name"}
    return Database("warehouse", "postgresql", params)


def superset_metadata(*, existing: bool = True) -> Database | None:
    url = os.environ.get(PREFIX + "SUPERSET_DATABASE_URI")
    if not url:
        home = Path(os.environ.get(PREFIX + "SUPERSET_HOME") or Path(__file__).resolve().parents[3] / ".superset")
        url = f"sqlite:///{home / 'superset.db'}"
    return from_url("superset", url, existing=existing)


def airflow_metadata(*, existing: bool = True) -> Database | None:
    """``ANIME_DASHBOARD_AIRFLOW_DATABASE_URI``, else ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``. Airflow hides the
    latter from task processes (``airflow-db-not-allowed:///``), so the DAG's backup needs the former."""
    url = os.environ.get(PREFIX + "AIRFLOW_DATABASE_URI") or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if not url or url.startswith("airflow-db-not-allowed"):
        log.warning("Airflow's metadata database is not backed up: set %sAIRFLOW_DATABASE_URI to its URL",
                    PREFIX)
        return None
    return from_url("airflow", url, existing=existing)


def configured() -> list[Database]:
    """The databases of this deployment that a backup takes, the warehouse first."""
    return [db for db in (warehouse(), superset_metadata(), airflow_metadata()) if db is not None]
