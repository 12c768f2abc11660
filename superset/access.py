"""Superset's roles and users as code, applied by bootstrap.py in Superset's own process.

Each ``superset/roles/*.yaml`` names a role and maps view menus to permissions. ``apply_role`` makes the role
hold exactly those permissions: created when missing, and a permission removed or added by hand is put right
on every bootstrap. A permission this Superset does not know is an error naming the file (a typo, or renamed
by an upgrade), except the data-access ones (``schema_access`` and friends), which Superset names after a
database that may be imported only later: those are created, as Superset itself would on import.

A view menu may name ``{warehouse_db}``: the warehouse's Postgres database (Superset 6's catalog, in SQL Lab's
schema permissions), from ``ANIME_DASHBOARD_SUPERSET_WAREHOUSE_DB``.

``ensure_user`` gives a login exactly one role and the environment's password (created when missing).
"""
from __future__ import annotations

from pathlib import Path

import yaml

ROLES_DIR = Path(__file__).resolve().parent / "roles"
DATA_ACCESS = frozenset({"database_access", "catalog_access", "schema_access", "datasource_access"})


class AccessError(RuntimeError):
    pass


def load_role(path: Path, warehouse_db: str) -> tuple[str, list[tuple[str, str]]]:
    """(role name, sorted (permission, view menu) pairs) from one role file."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    name, permissions = spec.get("name"), spec.get("permissions")
    if not name or not isinstance(permissions, dict):
        raise AccessError(f"{path}: needs `name` and `permissions` (view menu: [permission, ...])")
    pairs = {(perm, view.replace("{warehouse_db}", warehouse_db)) for view, perms in permissions.items()
             for perm in perms}
    return name, sorted(pairs)


def apply_role(sm, path: Path, warehouse_db: str) -> str:
    name, pairs = load_role(path, warehouse_db)
    wanted, unknown = [], []
    for perm, view in pairs:
        pvm = sm.find_permission_view_menu(perm, view)
        if pvm is None and perm in DATA_ACCESS:
            pvm = sm.add_permission_view_menu(perm, view)
        if pvm is None:
            unknown.append(f"{perm} on {view}")
        else:
            wanted.append(pvm)
    if unknown:
        raise AccessError(f"{path.name}: this Superset has no permission {', '.join(unknown)} "
                          "(a typo, or renamed by an upgrade: compare Settings > List Roles > Admin)")
    role = sm.find_role(name) or sm.add_role(name)
    before = set(role.permissions)
    role.permissions = wanted
    sm.session.commit()
    added, removed = len(set(wanted) - before), len(before - set(wanted))
    return f"role {name}: {len(wanted)} permissions from {path.name} ({added} added, {removed} removed)"


def ensure_user(sm, username: str, role_name: str, password: str) -> str:
    role = sm.find_role(role_name)
    if role is None:
        raise AccessError(f"role {role_name} does not exist (superset/roles/)")
    user = sm.find_user(username=username)
    if user is None:
        if not sm.add_user(username, username, "(AnimeDashboard)", f"{username}@anime-dashboard.invalid",
                           [role], password):
            raise AccessError(f"Superset did not create user {username}")
        return f"user {username} created with role {role_name}"
    user.roles = [role]
    user.active = True
    sm.update_user(user)
    sm.reset_password(user.id, password)
    return f"user {username} exists: role {role_name}, password set from the environment"
