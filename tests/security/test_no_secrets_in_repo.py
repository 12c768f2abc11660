"""No secret in the repository: every file git would commit is scanned (secret_scan.py says for what), .env is
ignored by git and by the Docker build context, and .env.example names the secrets without values.

The scanner is proven on planted examples in a throwaway git repository (tmp_path), never in this one.
"""
from __future__ import annotations

import base64
import os
import re
import secrets
import string
import subprocess
from pathlib import Path

import pytest

from secret_scan import PUBLISHED_DEFAULTS, Allowed, repo_files, scan, scan_text, unallowed

ROOT = Path(__file__).resolve().parents[2]

# Every match in the repository that is not a secret, and why. A new entry needs a reason a reviewer accepts:
# a value that names a default in order to refuse it, or a throwaway literal a test needs as text.
ALLOWLIST = [
    # The scanner's own table of published defaults, and the weak values the tests below must see refused.
    Allowed("tests/security/secret_scan.py", "published-default", "*", "the scanner's list of what to look for"),
    Allowed("tests/security/secret_scan.py", "weak-assignment", "*",
            "entries of that list read as NAME: value (a setting name, then the word Airflow of its comment)"),
    Allowed("tests/security/test_no_secrets_in_repo.py", "published-default", "*",
            "this ALLOWLIST has to name the texts it allows"),
    *[Allowed("tests/security/test_production_refuses_defaults.py", "published-default", text,
              "the published keys the test proves Superset refuses, or checks are unused")
      for text in ("CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET", "TEST_NON_DEV_SECRET",
                   "YOUR_OWN_RANDOM_GENERATED_SECRET_KEY", "thisismyscretkey", "test-secret-change-me",
                   "test-guest-secret-change-me")],
    # superset_config.py refuses these keys: it has to name them.
    *[Allowed("superset/superset_config.py", "published-default", text, "_PUBLISHED_SECRET_KEYS: refused keys")
      for text in ("CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET", "TEST_NON_DEV_SECRET",
                   "YOUR_OWN_RANDOM_GENERATED_SECRET_KEY", "thisismyscretkey", "thisISaSECRET_1234")],
    # Tests that check a weak or default value is refused or absent.
    Allowed("tests/compose/test_compose_file.py", "published-default", "airflow:airflow",
            "test_no_password_or_key_is_written_into_the_file: asserts the compose file does NOT contain it"),
    Allowed("tests/compose/test_compose_file.py", "published-default", "admin:admin@", "the same list"),
    Allowed("tests/superset/test_superset_dashboards.py", "weak-assignment", "password=admin",
            "test_the_admin_password_comes_from_the_environment_and_admin_admin_is_refused: login must be 401"),
    # Throwaway literals a test needs as text (no system uses them).
    Allowed("tests/integration/test_analyst_role.py", "sql-password", "mine now",
            "the analyst changing their own password, which ensure_analyst_role must put back"),
    Allowed("tests/unit/test_jikan_rate_limit.py", "url-credentials", "user:s3cret@",
            "input of the URL-redaction test (the output must hide it)"),
]


def _allowed(findings):
    out = []
    for f in findings:
        if any(a.path == f.path and a.rule == f.rule and a.text == "*" for a in ALLOWLIST):
            continue
        out.append(f)
    return unallowed(out, ALLOWLIST)


def test_no_file_git_would_commit_holds_a_secret_or_a_published_default():
    files = repo_files(ROOT)
    assert len(files) > 100 and ".env.example" in files and "docker-compose.yaml" in files, len(files)
    leaks = _allowed(scan(ROOT, files))
    assert not leaks, "secrets or published defaults in the repository:\n" + "\n".join(map(str, leaks))


def test_every_allowlist_entry_still_matches_something():
    """A stale entry would silently allow a future real secret with the same text: keep the list exact."""
    findings = scan(ROOT, repo_files(ROOT))
    stale = [a for a in ALLOWLIST
             if not any(f.path == a.path and f.rule == a.rule and a.text in ("*", f.text) for f in findings)]
    assert not stale, f"allowlist entries that match nothing any more (remove them): {stale}"


# --- .env stays out of git and out of every image ---------------------------------------------------------------

def _git(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def docker_ignored(path: str, dockerignore: str) -> bool:
    """Docker's .dockerignore rules for one path of the build context (last matching rule wins, ! re-includes,
    a path is excluded when it or a parent directory matches)."""
    rules = []
    for raw in dockerignore.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        pattern = pattern.strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        rules.append((re.compile(f"^{regex}$"), negate))
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for regex, negate in rules:
        if any(regex.match(c) for c in candidates):
            ignored = not negate
    return ignored


def test_dot_env_is_ignored_by_git_and_by_the_docker_build_context():
    for name in (".env", "docker/.env", "superset/.env", ".tls/ca.key", ".tls/tls.key"):
        assert _git("check-ignore", "--no-index", "-q", name).returncode == 0, f"git would commit {name}"
    tracked = [p for p in _git("ls-files").stdout.splitlines() if re.search(r"(^|/)\.env", p)]
    assert tracked == [".env.example"], f"env files in git: {tracked}"
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    for name in (".env", ".env.local", ".env.production", ".venv/bin/python", ".airflow/airflow.db",
                 ".superset/superset.db", ".tls/ca.key", ".tls/tls.key"):
        assert docker_ignored(name, dockerignore), f"{name} would be sent to the Docker build context"
    for name in (".env.example", "include/anime_dashboard/cli.py", "requirements.txt"):
        assert not docker_ignored(name, dockerignore), f"{name} must stay in the build context"


def test_the_dockerignore_reader_follows_docker_semantics():
    rules = ".env\n.env.*\n!.env.example\n**/__pycache__\n"
    assert docker_ignored(".env", rules) and docker_ignored(".env.prod", rules)
    assert not docker_ignored(".env.example", rules) and not docker_ignored("src/.env", rules)
    assert docker_ignored("a/b/__pycache__/x.pyc", rules)
    assert not docker_ignored(".env", ".env\n!.env\n")


SECRET_SETTING = re.compile(r"(PASSWORD|SECRET|TOKEN|FERNET_KEY|SECRET_KEY|API_KEY)$")


def test_env_example_names_every_secret_and_carries_no_value_for_any():
    names = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(\S*)", line)
        if m and SECRET_SETTING.search(m[1]):
            names.append(m[1])
            assert m[2] == "", f".env.example gives the secret {m[1]} a value"
    for required in ("POSTGRES_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY",
                     "SUPERSET_SECRET_KEY", "ANIME_DASHBOARD_AIRFLOW_ADMIN_PASSWORD",
                     "ANIME_DASHBOARD_SUPERSET_ADMIN_PASSWORD", "ANIME_DASHBOARD_ANALYST_PASSWORD"):
        assert required in names, f".env.example does not name the secret {required}"


# --- the scanner finds what it is for (planted in a throwaway repository) ---------------------------------------

def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@pytest.fixture
def planted(tmp_path):
    """A git repository with one planted secret per rule (values made now), lookalikes that are not secrets,
    an ignored .env and an untracked-but-not-ignored file."""
    fernet = base64.urlsafe_b64encode(os.urandom(32)).decode()
    hex_key = secrets.token_hex(24)
    superset_default = next(k for k in PUBLISHED_DEFAULTS if k.startswith("CHANGE_ME"))
    weak = ("postgres", "airflow", "admin")  # written into the planted files only
    files = {
        ".gitignore": ".env\n",
        ".env": f"SUPERSET_SECRET_KEY={hex_key}\n",  # ignored: the one place a real value belongs
        "config/superset.env": f"SUPERSET_SECRET_KEY={superset_default}\n",
        "airflow.cfg": f"[core]\nfernet_key = {fernet}\n",
        "compose.yaml": f"services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: {weak[0]}\n"
                        f"      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: postgresql+psycopg2://{weak[1]}:{weak[1]}@db/x\n",
        "settings.py": f'API_TOKEN = "{hex_key}"\nDB = "redis://:{_random(string.ascii_letters, 14)}@cache:6379/0"\n',
        "deploy.sh": f"export AWS_KEY_ID={'AKIA' + _random(string.ascii_uppercase + string.digits, 16)}\n",
        "keys/id_rsa.txt": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----\n",
        "sql/role.sql": f"CREATE ROLE reader LOGIN PASSWORD '{_random(string.ascii_letters, 16)}';\n",
        "superset_config.py": 'GLOBAL_ASYNC_QUERIES_JWT_SECRET = "test-secret-' + 'change-me"\n',
        "Dockerfile": f"ENV ADMIN_PASSWORD={weak[2]}\n",
        "notes.md": "token: gh" + "p_" + _random(string.ascii_letters + string.digits, 36) + "\n",
        # lookalikes: expressions, placeholders, non-secret keys
        "clean.yaml": "x:\n  SUPERSET_SECRET_KEY: ${SUPERSET_SECRET_KEY:?set it}\n"
                      "  URL: postgresql://analyst:${ANALYST_PASSWORD}@db/wh\n"
                      "  MASKED: postgresql://analyst:XXXXXXXXXX@db/wh\n"
                      "  CACHE_KEY_PREFIX: superset_data_\n  LIMITER_KEY: anime_dashboard:jikan:starts\n",
        "clean.py": 'import os, secrets\nSECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]\n'
                    "password = secrets.token_urlsafe(18)\nFERNET = base64.urlsafe_b64encode(os.urandom(32))\n",
        "clean.env": "POSTGRES_PASSWORD=\n# SUPERSET_SECRET_KEY=      (generated)\n",
    }
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "--", *[p for p in files if p not in (".env", "notes.md")]], cwd=tmp_path,
                   check=True)  # notes.md stays untracked (not ignored): it would be committed next
    return tmp_path


def test_the_scanner_catches_every_planted_secret_and_nothing_in_the_lookalikes(planted):
    files = repo_files(planted)
    assert ".env" not in files, "an ignored file was scanned as if it would be committed"
    assert "notes.md" in files, "an untracked, not ignored file was left out"
    found = {(f.path, f.rule) for f in scan(planted, files)}
    expected = {
        ("config/superset.env", "published-default"),
        ("airflow.cfg", "fernet-key"),
        ("compose.yaml", "weak-assignment"),  # the postgres image's example password
        ("compose.yaml", "published-default"),  # Airflow's example database login
        ("compose.yaml", "url-credentials"),
        ("settings.py", "secret-assignment"),
        ("settings.py", "url-credentials"),
        ("deploy.sh", "aws-access-key"),
        ("keys/id_rsa.txt", "private-key"),
        ("sql/role.sql", "sql-password"),
        ("superset_config.py", "published-default"),
        ("Dockerfile", "weak-assignment"),
        ("notes.md", "token"),
    }
    assert expected - found == set(), f"planted secrets the scanner missed: {sorted(expected - found)}"
    clean = sorted(f for f in found if f[0].startswith("clean"))
    assert clean == [], f"false positives on lookalikes: {clean}"


def test_a_reported_finding_never_prints_a_whole_generated_value():
    value = secrets.token_hex(24)
    (finding,) = scan_text("x.env", f"API_SECRET={value}\n")
    assert value not in str(finding) and finding.rule == "secret-assignment"


def test_the_allowlist_covers_only_its_exact_file_rule_and_text(planted):
    findings = scan(planted, repo_files(planted))
    entry = Allowed("compose.yaml", "weak-assignment", "POSTGRES_PASSWORD=" + "postgres", "example")
    left = unallowed(findings, [entry])
    assert len(left) == len(findings) - 1
    assert not unallowed([f for f in findings if f.path == "compose.yaml" and f.rule == "weak-assignment"], [entry])
