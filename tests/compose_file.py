"""docker-compose.yaml as Compose reads it, without a Docker engine: YAML (anchors, merge keys) and variable
interpolation as the Compose Specification defines it (``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from support import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"

_VAR = re.compile(r"\$(?:(?P<escaped>\$)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|\{(?P<braced>[^}]*)\})")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.S)


class InterpolationError(ValueError):
    """What `docker compose` stops with: a required variable is unset (its message), or bad syntax."""


def _substitute(text: str, env: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        if m.group("escaped"):
            return "$"
        if m.group("bare"):
            return env.get(m.group("bare"), "")
        if "$" in m.group("braced"):
            raise InterpolationError(f"nested interpolation in {m.group(0)!r} is not supported by this checker")
        spec = _BRACED.match(m.group("braced"))
        if not spec:
            raise InterpolationError(f"invalid interpolation format for {m.group(0)!r}")
        name, op, arg = spec.group("name"), spec.group("op"), spec.group("arg")
        value = env.get(name)
        if op is None:
            return value or ""
        if op == ":-":
            return value if value else _substitute(arg, env)
        if op == "-":
            return value if value is not None else _substitute(arg, env)
        if op == ":?":
            if not value:
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return value
        if op == "?":
            if value is None:
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return value
        if op == ":+":
            return _substitute(arg, env) if value else ""
        return _substitute(arg, env) if value is not None else ""

    return _VAR.sub(one, text)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    return node


def raw_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


def load_raw() -> dict:
    """The file as YAML: anchors and ``<<`` merges resolved, variables not yet interpolated."""
    return yaml.safe_load(raw_text())


def load(env: dict[str, str]) -> dict:
    """The file as `docker compose config` would see it with ``env`` (.env plus the shell)."""
    return interpolate(load_raw(), env)


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
