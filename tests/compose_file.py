"""docker-compose.yaml as Compose reads it: ``load(env)`` is `docker-compose config` (interpolation, the
``${VAR:?message}`` errors, the file's validation) with exactly ``env`` as its variables, plus the helpers the
checks Compose does not make read the file with (pins, secrets, health checks, entry points)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from support import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"

_VAR = re.compile(r"\$(?:(?P<escaped>\$)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|\{(?P<braced>[^}]*)\})")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.S)


class ComposeConfigError(ValueError):
    """`docker-compose config` refused the file with these variables (a required one unset, bad syntax)."""


def compose_command() -> list[str]:
    """`docker compose` (v2) where the plugin is installed, else Debian's `docker-compose` (1.29)."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if not legacy:
        raise RuntimeError("neither `docker compose` nor `docker-compose` is installed: make install (as root) "
                           "installs Debian's docker-compose")
    return [legacy]


def load(env: dict[str, str], profiles: tuple[str, ...] = ("offline",)) -> dict:
    """The file as Compose runs it with ``env`` as the only variables (no shell, no .env): `docker-compose
    config`. Raises ComposeConfigError with Compose's own message when it refuses."""
    with tempfile.TemporaryDirectory(prefix="ad_compose_config_") as tmp:
        empty = Path(tmp) / "env"
        empty.write_text("", encoding="utf-8")
        argv = compose_command() + ["--env-file", str(empty), "-f", str(COMPOSE_FILE)]
        for profile in profiles:
            argv += ["--profile", profile]
        proc = subprocess.run(argv + ["config"], env={"PATH": os.environ["PATH"], "HOME": tmp, **env}, cwd=tmp,
                              capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise ComposeConfigError(proc.stderr.strip() or proc.stdout.strip())
    return yaml.safe_load(proc.stdout)


def raw_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


def load_raw() -> dict:
    """The file as YAML: anchors and ``<<`` merges resolved, variables not yet interpolated."""
    return yaml.safe_load(raw_text())


def referenced_variables() -> dict[str, list[str]]:
    """Every variable the file interpolates, with the operator of each occurrence ('' for none)."""
    found: dict[str, list[str]] = {}
    for m in _VAR.finditer(raw_text()):
        if m.group("bare"):
            found.setdefault(m.group("bare"), []).append("")
        elif m.group("braced") is not None:
            spec = _BRACED.match(m.group("braced"))
            assert spec, f"bad interpolation {m.group(0)}"
            found.setdefault(spec.group("name"), []).append(spec.group("op") or "")
    return found


def env_example() -> dict[str, str]:
    """NAME=value lines of .env.example (commented ``# NAME=...`` lines count as documented, value '')."""
    out = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2).split("(", 1)[0].strip() if line.lstrip().startswith("#") else m.group(2)
    return out


def service_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_text(service: dict) -> str:
    """entrypoint + command as one shell-ish string."""
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif value:
            parts.append(str(value))
    return " ".join(parts)


def dockerfile(path: Path) -> tuple[dict[str, str], list[str], str]:
    """(ARG defaults, FROM images with ARGs substituted, the whole text) of a Dockerfile."""
    text = path.read_text(encoding="utf-8")
    args: dict[str, str] = {}
    froms: list[str] = []
    for line in text.splitlines():
        m = re.match(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S+))?", line)
        if m and m.group(2) is not None:
            args.setdefault(m.group(1), m.group(2))
        m = re.match(r"^FROM\s+(\S+)", line)
        if m:
            froms.append(re.sub(r"\$\{(\w+)\}", lambda v: args.get(v.group(1), v.group(0)), m.group(1)))
    return args, froms, text
