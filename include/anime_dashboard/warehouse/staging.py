"""Staging valid records and keeping rejects, per extract batch (rerunnable)."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from psycopg2.extras import Json, execute_values

from anime_dashboard.warehouse.db import query, transaction


# COPY's text format: backslash, tab, newline and carriage return escaped; \N is NULL.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def _text(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(value) else value


def _text_array(value: list) -> str:
    """A text[] literal: every element double-quoted (its backslashes and quotes escaped), then the literal
    escaped for COPY as a whole."""
    if not value:
        return "{}"
    return _text('{"' + '","'.join([v.replace("\\", "\\\\").replace('"', '\\"') for v in value]) + '"}')


# by exact type (a bool is an int, but is written t/f); any other type, a subclass included, is an error
_FORMATS = {str: _text, int: int.__repr__, float: float.__repr__, bool: lambda v: "t" if v else "f",
            type(None): lambda v: "\\N", list: _text_array}


def copy_value(value: Any) -> str:
    """One value in COPY's text format: NULL, a boolean, a number, a string or a list of strings (an array)."""
    try:
        fmt = _FORMATS[type(value)]
    except KeyError:
        raise TypeError(f"no COPY text for {type(value).__name__} {value!r}") from None
    return fmt(value)


@lru_cache(maxsize=1)
def copy_columns() -> tuple[str, ...]:
    """The columns of copy_staged_records.sql, in its order: the order of every line staging writes."""
    match = re.search(r"COPY\s+core\.staged_records\s*\(([^)]*)\)", query("copy_staged_records"))
    if match is None:
        raise ValueError("copy_staged_records.sql: no COPY core.staged_records (columns) statement")
    return tuple(c.strip() for c in match.group(1).split(","))


@lru_cache(maxsize=1)
def _record_columns() -> tuple[str, ...]:
    """The typed columns, after the five every line starts with."""
    if copy_columns()[:5] != ("batch_id", "mal_id", "list_position", "page", "item"):
        raise ValueError("copy_staged_records.sql must list batch_id, mal_id, list_position, page, item first: "
                         f"{copy_columns()}")
    return copy_columns()[5:]


def _copy_line(batch_id: int, v: dict[str, Any]) -> str:
    record = v["record"]
    return (f"{batch_id}\t{v['mal_id']}\t{v['list_position']}\t{v['page']}\t{v['item']}\t"
            + "\t".join([copy_value(record[c]) for c in _record_columns()]) + "\n")


class _Lines:
    """A file-like ``read`` over lines made on demand: COPY streams them as they are produced, so the server
    stores one chunk while the client makes the next (validation and ingest overlap on two cores)."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines

    def read(self, size: int = -1) -> str:
        chunk: list[str] = []
        length = 0
        for line in self._lines:
            chunk.append(line)
            length += len(line)
            if 0 < size <= length:
                break
        return "".join(chunk)


def stage_batch(conn, batch: dict[str, Any], valid: Iterable[dict[str, Any]],
                rejects: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Replace what is staged/rejected for ``batch`` with ``valid`` and ``rejects()``, in one transaction.

    valid:   {mal_id, list_position, page, item, record} -- the typed columns (record: a dict by column name,
             written as the columns themselves) and where the Jikan object is in raw.jikan_pages (page,
             1-based item); the upsert takes the object from there.
             May be a generator: it is consumed while COPY runs (so it must not use ``conn``); an exception
             it raises aborts the COPY and the transaction.
    rejects: called once ``valid`` is exhausted (it may use ``conn``): {page, mal_id, payload, errors}
    Returns the rejects written.
    """
    batch_id = batch["batch_id"]
    with transaction(conn), conn.cursor() as cur:
        cur.execute(query("clear_batch_validation"), {"batch_id": batch_id})
        cur.copy_expert(query("copy_staged_records"), _Lines(_copy_line(batch_id, v) for v in valid),
                        size=1 << 16)
        written = rejects()
        if written:
            execute_values(cur, query("insert_rejects"), [
                (batch_id, batch["dag_id"], batch["run_id"], batch["snapshot_type"], batch["snapshot_date"],
                 r["page"], r["mal_id"], Json(r["payload"]), Json(r["errors"]))
                for r in written], page_size=1000)
    return written
