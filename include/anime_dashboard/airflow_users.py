"""The Airflow UI's logins: one per job, users of the FAB auth manager in Airflow's metadata database, each
password from the environment, never a default.

``anime-dashboard airflow-users`` (``make run``, and ``airflow-init`` in compose) makes the database say what the
environment says, on every run: each login below exists, is active, has its one role and its password from
``.env``. A login whose user name left the settings (``ANIME_DASHBOARD_AIRFLOW_VIEWER_USER`` renamed, say) is
deactivated, not deleted: its runs and audit entries keep their user. Users the admin makes in the UI or through
FAB's user API are left as they are; the ones managed here carry MANAGED as their last name, which the UI shows.

| login | FAB role | for | variables |
|---|---|---|---|
| admin | Admin | whoever runs the deployment; manages users | ``ANIME_DASHBOARD_AIRFLOW_ADMIN_USER`` / ``_PASSWORD`` |
| viewer | Viewer | stakeholders: DAGs, runs, task logs; changes nothing | ``..._VIEWER_USER`` / ``_PASSWORD`` |
| engineer | Op | data engineers: trigger, clear, mark, pause, pools, connections | ``..._OP_USER`` / ``_PASSWORD`` |
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from anime_dashboard.settings import PREFIX, PasswordError, login_password

# the middle of each login's variables' names -> (FAB role, default user name)
LOGINS = {"ADMIN": ("Admin", "admin"), "VIEWER": ("Viewer", "viewer"), "OP": ("Op", "engineer")}
MANAGED = "(from the environment)"  # the last name of the users this module manages


class AirflowUsersError(RuntimeError):
    pass


@dataclass(frozen=True)
class Login:
    user: str
    role: str
    password: str


def logins_from_env() -> list[Login]:
    """Every login of LOGINS from ``ANIME_DASHBOARD_AIRFLOW_<KEY>_USER`` / ``_PASSWORD``, checked."""
    logins = []
    for key, (role, default_user) in LOGINS.items():
        try:
            password = login_password(f"AIRFLOW_{key}_PASSWORD", " (docker-compose: in .env)")
        except PasswordError as exc:
            raise AirflowUsersError(str(exc)) from exc
        logins.append(Login(os.environ.get(f"{PREFIX}AIRFLOW_{key}_USER") or default_user, role, password))
    if len({login.user for login in logins}) < len(logins):
        raise AirflowUsersError(f"the Airflow logins need different user names ({PREFIX}AIRFLOW_*_USER: "
                                f"{', '.join(login.user for login in logins)})")
    return logins


def sync_users() -> list[str]:
    """Create or update every login in Airflow's metadata database and deactivate the managed users no longer
    configured; what changed, one line each. Needs ``[core] auth_manager`` to be FAB's and ``airflow db migrate``
    to have run."""
    logins = logins_from_env()  # every password checked before the database is touched
    from airflow.configuration import conf
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
    from werkzeug.security import check_password_hash

    if not conf.get("core", "auth_manager").endswith(".FabAuthManager"):
        raise AirflowUsersError(f"[core] auth_manager is {conf.get('core', 'auth_manager')}: the logins are FAB "
                                "users (AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager."
                                "fab_auth_manager.FabAuthManager)")
    changed = []
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        for login in logins:
            role = sm.find_role(login.role)
            if role is None:
                raise AirflowUsersError(f"Airflow has no role {login.role!r} (roles: "
                                        f"{', '.join(r.name for r in sm.get_all_roles())})")
            user = sm.find_user(username=login.user)
            if user is None:
                if not sm.add_user(login.user, login.user, MANAGED, f"{login.user}@anime-dashboard.invalid", role,
                                   login.password):
                    raise AirflowUsersError(f"FAB did not create the user {login.user!r}")
                changed.append(f"{login.user}: created ({login.role})")
                continue
            if not check_password_hash(user.password, login.password):
                sm.reset_password(user.id, login.password)
                changed.append(f"{login.user}: password set from the environment")
            if [r.name for r in user.roles] != [login.role] or not user.active or user.last_name != MANAGED:
                user.roles, user.active, user.last_name = [role], True, MANAGED
                sm.update_user(user)
                changed.append(f"{login.user}: active, role {login.role}")
        names = {login.user for login in logins}
        for user in sm.get_all_users():
            if user.last_name == MANAGED and user.username not in names and user.active:
                user.active = False
                sm.update_user(user)
                changed.append(f"{user.username}: deactivated (no longer in the settings)")
    return changed
