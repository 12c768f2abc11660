"""Staging writes its COPY lines itself: every value must come back from PostgreSQL exactly as validated."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal

import psycopg2
import pytest

from anime_dashboard.warehouse.staging import copy_value
from support import PG

AWKWARD = ["", " ", "NULL", "\\N", "\\", "\\\\", '"', "'", "{", "}", "{}", ",", "a,b", "tab\there", "line\nbreak",
           "cr\rhere", "\u2605 \U0001F600", "  padded  ", 'mixed \\ " { } , \t \n end']


def round_trip(values: list, types: list[str]) -> tuple:
    conn = psycopg2.connect(dbname="postgres", **PG)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE t (" + ", ".join(f"c{i} {t}" for i, t in enumerate(types)) + ")")
            cur.copy_expert("COPY t FROM STDIN", io.StringIO("\t".join(copy_value(v) for v in values) + "\n"))
            cur.execute("SELECT * FROM t")
            return cur.fetchone()
    finally:
        conn.close()


@pytest.mark.parametrize("text", AWKWARD, ids=repr)
def test_awkward_text_comes_back_unchanged_as_a_value_and_as_an_array_element(text):
    assert round_trip([text, [text], [text, "x", text], []], ["text", "text[]", "text[]", "text[]"]) == (
        text, [text], [text, "x", text], [])


def test_nulls_booleans_numbers_and_timestamps_come_back_typed():
    values = [None, True, False, 0, 2_147_483_647, 8.67, 1e-05, "2005-10-23T00:00:00+00:00", None]
    types = ["text", "boolean", "boolean", "integer", "integer", "numeric(4,2)", "numeric", "timestamptz", "text[]"]
    assert round_trip(values, types) == (None, True, False, 0, 2_147_483_647, Decimal("8.67"), Decimal("0.00001"),
                                         datetime(2005, 10, 23, tzinfo=timezone.utc), None)


@pytest.mark.parametrize("value", [b"bytes", {"a": 1}, (1, 2), Decimal("1.5")], ids=repr)
def test_a_type_staging_does_not_write_is_an_error_not_a_guess(value):
    with pytest.raises(TypeError, match="no COPY text"):
        copy_value(value)
