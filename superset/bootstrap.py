"""Superset's bootstrap in one process, run with Superset's own python by ``anime_dashboard.dashboards.server``.

The same commands of Superset's CLI that three ``superset`` processes would run, one after another on one
app: ``superset db upgrade``, ``superset fab create-admin`` (``fab reset-password`` when the admin exists, so
the password is the environment's), ``superset init``. Each ``superset`` process builds the app again (about
6 CPU-seconds on a 2-core machine), so this is half the work of three. Then the roles of ``superset/roles/``
and the analyst's and the pipeline's logins (``access.py``).

Usage: python bootstrap.py ADMIN_USER  (passwords from ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD, and the users and
passwords of ACCOUNTS from the environment, so none is on a command line). Prints one line per step done
(after STEP); a failing step exits non-zero with its error.
"""
import os
import sys

from flask.cli import ScriptInfo
from superset.cli.main import superset

from access import ROLES_DIR, AccessError, apply_role, ensure_user

# login -> its role (superset/roles/*.yaml): ANIME_DASHBOARD_SUPERSET_<KEY>_USER and _PASSWORD
ACCOUNTS = (("ANALYST", "Analyst"), ("SERVICE", "Pipeline"))

STEP = "bootstrap step: "  # the lines server.bootstrap returns (Superset's own output is around them)


def step(line: str) -> None:
    print(f"{STEP}{line}", flush=True)


def main(user: str) -> None:
    password = os.environ["ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD"]
    info = ScriptInfo()  # finds the app as the `superset` command does (FLASK_APP); load_app() keeps it

    def cli(*args: str) -> None:
        superset.main(list(args), prog_name="superset", obj=info, standalone_mode=False)

    cli("db", "upgrade")
    step("metadata database upgraded")
    app = info.load_app()
    with app.app_context():
        exists = app.appbuilder.sm.find_user(username=user) is not None
    if exists:
        cli("fab", "reset-password", "--username", user, "--password", password)
        step(f"admin user {user} exists: password set from the environment")
    else:
        cli("fab", "create-admin", "--username", user, "--firstname", "Anime", "--lastname", "Dashboard",
            "--email", f"{user}@anime-dashboard.invalid", "--password", password)
        with app.app_context():
            if app.appbuilder.sm.find_user(username=user) is None:
                sys.exit(f"`superset fab create-admin` did not create {user}")
        step(f"admin user {user} created")
    cli("init")
    step("roles and permissions initialised")
    with app.app_context():
        sm = app.appbuilder.sm
        try:
            for path in sorted(ROLES_DIR.glob("*.yaml")):
                step(apply_role(sm, path, os.environ["ANIME_DASHBOARD_SUPERSET_WAREHOUSE_DB"]))
            for key, role in ACCOUNTS:
                step(ensure_user(sm, os.environ[f"ANIME_DASHBOARD_SUPERSET_{key}_USER"], role,
                                 os.environ[f"ANIME_DASHBOARD_SUPERSET_{key}_PASSWORD"]))
        except AccessError as exc:
            sys.exit(str(exc))


if __name__ == "__main__":
    main(sys.argv[1])
