"""A small secret scanner for this repository (a helper of test_no_secrets_in_repo.py, not a test module).

It reads every file git would commit (tracked, plus untracked files that are not ignored) and reports:

- ``published-default``: a default password or key that ships with Superset, Flask-AppBuilder or Airflow's
  compose example (anyone can look them up), anywhere in any file;
- ``url-credentials``: a URL carrying a literal password (``scheme://user:<password>@host``); placeholders
  such as ``${VAR}``, ``<password>``, ``XXXXXXXXXX`` (Superset's masked password) or ``***`` are not;
- ``weak-assignment``: a name containing PASSWORD/SECRET/KEY/TOKEN set to a well-known weak value
  (``POSTGRES_PASSWORD=postgres``, ``password: admin``, ...) in a config-like file;
- ``secret-assignment``: such a name set to a literal that looks generated (32+ hex or base64 characters,
  or a Fernet key) in a config-like file;
- ``fernet-key``: a Fernet-key-shaped literal (43 URL-safe base64 characters and ``=``) in a config-like file;
- ``sql-password``: ``PASSWORD '<literal>'`` in SQL text;
- ``private-key``: a PEM private key block; ``aws-access-key``: an AWS access key id; ``token``: GitHub and
  Slack token shapes.

Values that are expressions (``${VAR:?...}``, ``os.environ[...]``, ``secrets.token_hex(16)``) are never
reported: the tests create their throwaway secrets at run time, so those never sit in a file.
"""
from __future__ import annotations

import fnmatch
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Published defaults, matched as plain text anywhere. Each is someone's documented default, so a file that
# holds one either uses it (a secret everybody knows) or names it to refuse it (then it is in ALLOWLIST).
PUBLISHED_DEFAULTS = {
    "thisismyscretkey": "Superset < 2.1 / Flask-AppBuilder default SECRET_KEY",
    "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET": "Superset's default SECRET_KEY (superset.constants)",
    "TEST_NON_DEV_SECRET": "SUPERSET_SECRET_KEY of Superset's docker/.env",
    "YOUR_OWN_RANDOM_GENERATED_SECRET_KEY": "SECRET_KEY example of Superset's documentation",
    "thisISaSECRET_1234": "SUPERSET_SECRET_KEY of Superset's old docker/.env-non-dev",
    "test-secret-change-me": "Superset's default GLOBAL_ASYNC_QUERIES_JWT_SECRET",
    "test-guest-secret-change-me": "Superset's default GUEST_TOKEN_JWT_SECRET",
    "airflow:airflow": "Airflow's docker-compose example credentials (user:password)",
    "admin:admin@": "admin/admin credentials in a URL",
    "_AIRFLOW_WWW_USER_PASSWORD": "Airflow's docker-compose example admin password setting (default airflow)",
}
# Values that are a password/key in name only.
WEAK_VALUES = {"admin", "airflow", "postgres", "superset", "password", "passw0rd", "secret", "changeme",
               "change_me", "change-me", "changeit", "default", "123456", "12345678", "root", "toor", "test",
               "letmein", "redis", "guest", "example", "qwerty"}

# Where a `NAME = value` assignment is configuration. Documentation (.md) counts too: a real key pasted into
# a README is just as public.
CONFIG_GLOBS = (".env", ".env.*", "*.env", "*.yaml", "*.yml", "*.cfg", "*.ini", "*.toml", "*.conf", "*.py",
                "*.sh", "Dockerfile", "Dockerfile.*", "*.dockerfile", "Makefile", "*.json", "*.md", "*.txt",
                ".ci/*", "scripts/*")
SQL_GLOBS = ("*.sql", "*.py")

SECRET_NAME = r"[A-Za-z0-9_.\-]*(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|FERNET|KEY)[A-Za-z0-9_]*"
# NAME = value, NAME: value, "NAME": "value", NAME=value (env, YAML, Python, shell, JSON)
ASSIGNMENT = re.compile(rf"""(?i)(?<![A-Za-z0-9_])(?P<name>{SECRET_NAME})["']?\s*(?::=|=|:)\s*"""
                        r"""(?P<quote>["']?)(?P<value>[^\s"'`,;)\]}]*)""")
URL_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://(?P<user>[A-Za-z0-9._%+\-]*)"
                             r":(?P<password>[A-Za-z0-9._~%!$&*+,;=\-]+)@")
SQL_PASSWORD = re.compile(r"(?i)\bPASSWORD\s+'(?P<value>[^']+)'")
FERNET = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{43}=(?![A-Za-z0-9_\-=])")
HEX_OR_BASE64 = re.compile(r"^(?:[0-9a-fA-F]{32,}|[A-Za-z0-9+/_\-]{32,}={0,2})$")
PATTERNS = {
    "private-key": re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----"),
    "aws-access-key": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "token": re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,}"
                        r"|xox[abprs]-[A-Za-z0-9\-]{10,})"),
}
PLACEHOLDER = re.compile(r"^(?:X+|x+|\*+|\.\.\.|<[^>]*>|\$\{.*|\{.*|%s|%\(.*|None|null|true|false)$")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    text: str  # what matched (a value, shortened: the report must not become the leak)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.text}"


@dataclass(frozen=True)
class Allowed:
    """One legitimate match: the file, the rule, the exact matched text, and why it is not a secret."""
    path: str
    rule: str
    text: str
    reason: str

    def covers(self, f: Finding) -> bool:
        return f.path == self.path and f.rule == self.rule and f.text == self.text


def repo_files(root: Path) -> list[str]:
    """Every file git would commit: tracked ones still on disk, plus untracked ones not ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, check=True).stdout
    return sorted({p for p in out.decode().split("\0") if p and (root / p).is_file()})


def _matches(path: str, globs: tuple[str, ...]) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(path, g) for g in globs)


def _shown(value: str) -> str:
    return value if len(value) <= 12 else value[:6] + "..." + value[-2:]


def _looks_generated(value: str) -> bool:
    if not HEX_OR_BASE64.match(value):
        return False
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        return True
    # base64-ish: a mix of letters and digits, not a long identifier such as an_env_var_name
    return bool(re.search(r"[0-9]", value) and re.search(r"[A-Za-z]", value)) and not re.fullmatch(
        r"[A-Za-z_]+[0-9]?", value)


def scan_text(path: str, text: str) -> list[Finding]:
    findings: list[Finding] = []
    config = _matches(path, CONFIG_GLOBS)
    sql = _matches(path, SQL_GLOBS)
    for lineno, line in enumerate(text.splitlines(), 1):
        for literal in PUBLISHED_DEFAULTS:
            if literal.lower() in line.lower():
                findings.append(Finding(path, lineno, "published-default", literal))
        for m in URL_CREDENTIALS.finditer(line):
            if not PLACEHOLDER.match(m["password"]):
                findings.append(Finding(path, lineno, "url-credentials", f"{m['user']}:{_shown(m['password'])}@"))
        for rule, pattern in PATTERNS.items():
            for m in pattern.finditer(line):
                findings.append(Finding(path, lineno, rule, _shown(m.group(0))))
        if sql:
            for m in SQL_PASSWORD.finditer(line):
                if not PLACEHOLDER.match(m["value"]):
                    findings.append(Finding(path, lineno, "sql-password", _shown(m["value"])))
        if not config:
            continue
        for m in FERNET.finditer(line):
            findings.append(Finding(path, lineno, "fernet-key", _shown(m.group(0))))
        for m in ASSIGNMENT.finditer(line):
            value = m["value"]
            if path.endswith(".py") and not m["quote"]:
                continue  # Python: an unquoted right-hand side is code (os.environ[...], a call), not a value
            if not value or PLACEHOLDER.match(value):
                continue
            if value.lower() in WEAK_VALUES:
                findings.append(Finding(path, lineno, "weak-assignment", f"{m['name']}={value}"))
            elif _looks_generated(value) and not FERNET.fullmatch(value):
                findings.append(Finding(path, lineno, "secret-assignment", f"{m['name']}={_shown(value)}"))
    return findings


def scan(root: Path, files: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    for rel in files:
        data = (root / rel).read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (the screenshots): no text to leak a secret in
        findings.extend(scan_text(rel, data.decode("utf-8", errors="replace")))
    return findings


def unallowed(findings: list[Finding], allowlist: list[Allowed]) -> list[Finding]:
    return [f for f in findings if not any(a.covers(f) for a in allowlist)]
