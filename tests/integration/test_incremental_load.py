"""The load's cheaper path gives the results of the full one.

* ``core.upkeep_titles`` (titles and tags kept from the rows each upsert writes) leaves ``core.titles`` and
  ``core.title_tags`` exactly as a from-scratch recomputation over all snapshot rows would, after every
  load: out-of-order dates, reruns of the same snapshot (updates, removed titles, titles that leave every
  list), several types on one date (the tie-break), synthetic rows, and two upserts at once;
* validating records cut down to the keys the model reads accepts and rejects exactly what validating the
  whole objects does, and the upsert stores the objects exactly as they were landed in raw.
"""
from __future__ import annotations

import copy
import json
import random
import threading
from datetime import date, datetime, timedelta, timezone

import psycopg2
import pytest
from pydantic import ValidationError

from anime_dashboard import pipeline
from anime_dashboard.history import load_corpus
from anime_dashboard.jikan.client import Page, RequestStats
from anime_dashboard.models import AnimeRecord
from anime_dashboard.snapshots import BY_NAME, PAGE_SIZE
from anime_dashboard.warehouse.db import query
from anime_dashboard.warehouse.raw import land_batch
from support import PG

D0 = date(2026, 3, 1)
DAYS = [D0 + timedelta(days=i) for i in range(6)]
GENRES = ["Action", "Drama", "Comedy", "Romance", "Sci-Fi", "Mystery"]
STUDIOS = ["Madhouse", "Bones", "Sunrise", "MAPPA"]
TYPED_COLUMNS = ("title, title_english, title_japanese, type, source, episodes, status, airing, aired_from, "
                 "aired_to, duration, rating, score, scored_by, rank, popularity, members, favorites, season, "
                 "year, genres, themes, demographics, studios")

TITLE_COLUMNS = ("mal_id, title, title_english, title_japanese, type, source, episodes, status, airing, "
                 "aired_from, aired_to, duration, rating, score, scored_by, rank, popularity, members, favorites, "
                 "season, year, snapshot_types, first_seen, last_seen, snapshots, synthetic")

# What core.titles and core.title_tags must hold, computed from scratch from every snapshot row: attributes
# and tags from each title's latest row (latest date, then real before synthetic, then by type), first/last
# seen, types, count and synthetic from all of its rows. Written here independently of core.refresh_titles.
EXPECTED_TITLES = """
    WITH latest AS (
        SELECT DISTINCT ON (mal_id) * FROM core.anime_snapshots
        ORDER BY mal_id, snapshot_date DESC, synthetic, snapshot_type),
    agg AS (
        SELECT mal_id, array_agg(DISTINCT snapshot_type ORDER BY snapshot_type) AS snapshot_types,
               min(snapshot_date) AS first_seen, max(snapshot_date) AS last_seen, count(*)::integer AS snapshots,
               bool_and(synthetic) AS synthetic
        FROM core.anime_snapshots GROUP BY mal_id)
    SELECT l.mal_id, l.title, l.title_english, l.title_japanese, l.type, l.source, l.episodes, l.status, l.airing,
           l.aired_from, l.aired_to, l.duration, l.rating, l.score, l.scored_by, l.rank, l.popularity, l.members,
           l.favorites, l.season, l.year, a.snapshot_types, a.first_seen, a.last_seen, a.snapshots, a.synthetic
    FROM latest l JOIN agg a USING (mal_id) ORDER BY mal_id"""
EXPECTED_TAGS = """
    SELECT DISTINCT l.mal_id, k.kind, k.name
    FROM (SELECT DISTINCT ON (mal_id) * FROM core.anime_snapshots
          ORDER BY mal_id, snapshot_date DESC, synthetic, snapshot_type) l
    CROSS JOIN LATERAL (SELECT 'genre', unnest(l.genres) UNION ALL SELECT 'theme', unnest(l.themes)
                        UNION ALL SELECT 'demographic', unnest(l.demographics)
                        UNION ALL SELECT 'studio', unnest(l.studios)) AS k (kind, name)
    ORDER BY 1, 2, 3"""


def fetch(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def stored(conn):
    return (fetch(conn, f"SELECT {TITLE_COLUMNS} FROM core.titles ORDER BY mal_id"),
            fetch(conn, "SELECT mal_id, tag_kind, tag_name FROM core.title_tags ORDER BY 1, 2, 3"))


def assert_titles_match_a_full_recomputation(conn, when: str):
    titles, tags = stored(conn)
    expected = (fetch(conn, EXPECTED_TITLES), fetch(conn, EXPECTED_TAGS))
    assert titles, f"{when}: core.titles is empty"
    assert titles == expected[0], f"{when}: core.titles differs from a recomputation from all rows"
    assert tags == expected[1], f"{when}: core.title_tags differs from a recomputation from all rows"
    # and from what the project's own full recomputation gives (rolled back)
    with conn.cursor() as cur:
        cur.execute("SELECT core.refresh_titles(NULL)")
    assert stored(conn) == (titles, tags), f"{when}: core.refresh_titles(NULL) would change core.titles"
    conn.rollback()


@pytest.fixture(scope="module")
def corpus():
    return [raw for raw, _ in load_corpus()]


def pages_of(records: list[dict], now: datetime) -> list[Page]:
    """The records as 25-record Jikan pages."""
    pages = []
    last = max(1, -(-len(records) // PAGE_SIZE))
    for n in range(1, last + 1):
        data = records[(n - 1) * PAGE_SIZE:n * PAGE_SIZE]
        pages.append(Page(page=n, url=f"https://api.jikan.moe/v4/anime?page={n}", status=200, fetched_at=now,
                          body={"pagination": {"last_visible_page": last, "has_next_page": n < last,
                                               "current_page": n}, "data": data}))
    return pages


def land(conn, snapshot_type: str, day: date, records: list[dict], run_id: str) -> int:
    """An extract batch of these records, as extract lands it (25-record Jikan pages)."""
    snapshot = BY_NAME[snapshot_type]
    now = datetime.now(timezone.utc)
    pages = pages_of(records, now)
    batch_id, _ = land_batch(conn, dag_id=snapshot.dag_id, run_id=run_id, snapshot_type=snapshot_type,
                             snapshot_date=day, params=snapshot.params, max_pages=snapshot.max_pages, pages=pages,
                             stats=RequestStats(requests=len(pages), pages=len(pages)), started_at=now,
                             finished_at=now)
    return batch_id


def load(conn, snapshot_type: str, day: date, records: list[dict], run_id: str | None = None) -> dict:
    run_id = run_id or f"scheduled__{day}:{snapshot_type}"
    batch_id = land(conn, snapshot_type, day, records, run_id)
    pipeline.validate(batch_id, conn=conn, max_reject_share=0.05)
    return pipeline.upsert(batch_id, conn=conn, run_id=run_id)


def variant(raw: dict, rng: random.Random, *, mal_id: int | None = None) -> dict:
    """The object with new figures and (sometimes) other genres and studios, as a later day might bring."""
    out = copy.deepcopy(raw)
    if mal_id is not None:
        out["mal_id"] = mal_id
        out["title"] = f"{raw['title']} #{mal_id}"
    out["members"] = rng.randrange(1, 3_000_000)
    out["score"] = rng.choice([None, round(rng.uniform(1, 10), 2)])
    out["rank"] = rng.choice([None, rng.randrange(1, 20_000)])
    out["title_english"] = rng.choice([out.get("title_english"), None, f"{raw['title']} (EN {rng.random():.3f})"])
    if rng.random() < 0.4:
        out["genres"] = [{"mal_id": i + 1, "type": "anime", "name": g, "url": "https://x"}
                         for i, g in enumerate(rng.sample(GENRES, rng.randrange(0, 4)))]
    if rng.random() < 0.3:
        out["studios"] = [{"mal_id": 100 + i, "type": "anime", "name": s, "url": "https://x"}
                          for i, s in enumerate(rng.sample(STUDIOS, rng.randrange(0, 3)))]
    if rng.random() < 0.2:
        out["themes"] = None  # Jikan sends null lists too
    return out


def test_titles_upkeep_equals_a_full_recomputation_over_out_of_order_loads_and_reruns(warehouse, corpus):
    conn = warehouse
    rng = random.Random(20261124)
    pool = [variant(raw, rng, mal_id=900_000 + i) for i, raw in enumerate(corpus[:40])] + corpus[:40]
    a, b, c = pool[:30], pool[20:50], pool[40:80]

    steps = [  # (what, type, date, list)
        ("first snapshot, newest date", "top", DAYS[3], a),
        ("an older date after a newer one (backfill)", "top", DAYS[1], [variant(r, rng) for r in a[:25]]),
        ("another type, same newest date: ties", "airing", DAYS[3], [variant(r, rng) for r in b]),
        ("a type on a date in between", "movies", DAYS[2], [variant(r, rng) for r in c]),
        ("the oldest date", "upcoming", DAYS[0], [variant(r, rng) for r in c[10:] + a[:5]]),
        ("rerun of the newest: some titles leave, some join, figures change", "top", DAYS[3],
         [variant(r, rng) for r in a[5:] + c[:8]]),
        ("rerun of an older date with other figures: latest attributes stay", "top", DAYS[1],
         [variant(r, rng) for r in a[:25]]),
        ("rerun with a much shorter list: titles leave every list", "upcoming", DAYS[0],
         [variant(r, rng) for r in c[30:33]]),
        ("a new latest date", "movies", DAYS[4], [variant(r, rng) for r in c[::2]]),
        ("same rerun twice: nothing changes", "movies", DAYS[4], None),
    ]
    previous = None
    for what, snapshot_type, day, records in steps:
        records = records if records is not None else previous
        load(conn, snapshot_type, day, records)
        assert_titles_match_a_full_recomputation(conn, what)
        previous = records

    # then random loads: random types, dates (any order), lists and figures, reruns included
    for i in range(30):
        snapshot_type = rng.choice(["top", "airing", "upcoming", "movies"])
        day = rng.choice(DAYS)
        records = [variant(r, rng) for r in rng.sample(pool, rng.randrange(1, 60))]
        load(conn, snapshot_type, day, records)
        assert_titles_match_a_full_recomputation(conn, f"random load {i}: {snapshot_type} {day}")


def test_synthetic_history_and_real_rows_keep_the_tie_break_and_the_synthetic_flag(warehouse, corpus):
    conn = warehouse
    rng = random.Random(7)
    titles = [variant(raw, rng) for raw in corpus[:30]]
    load(conn, "top", DAYS[2], titles[:20])
    # synthetic rows as the history generator writes them (then it recomputes the titles it touched)
    with conn, conn.cursor() as cur:
        cur.execute("""
            INSERT INTO core.anime_snapshots (snapshot_type, snapshot_date, mal_id, list_position, title, members,
                                              genres, payload, run_id, synthetic)
            SELECT 'upcoming', d, mal_id, row_number() OVER (PARTITION BY d ORDER BY mal_id),
                   'synthetic ' || mal_id, 1, '{Synthetic}', '{"synthetic": true}', 'synthetic:history-generator', true
            FROM unnest(%s::integer[]) AS mal_id CROSS JOIN unnest(%s::date[]) AS d""",
                    ([r["mal_id"] for r in titles[10:30]], [DAYS[1], DAYS[3], DAYS[4]]))
        params, max_pages = BY_NAME["upcoming"].definition  # the generator files its snapshots under one
        cur.execute("SELECT core.list_definition('upcoming', %s, %s)", (json.dumps(params), max_pages))
        cur.execute("SELECT core.refresh_snapshot('upcoming', d) FROM unnest(%s::date[]) AS d",
                    ([DAYS[1], DAYS[3], DAYS[4]],))
        cur.execute("SELECT core.refresh_titles(%s)", ([r["mal_id"] for r in titles[10:30]],))
    assert_titles_match_a_full_recomputation(conn, "after synthetic history")
    # real rows on a date that has synthetic ones: real wins the tie; titles only seen synthetic become real
    load(conn, "airing", DAYS[4], titles[15:30])
    assert_titles_match_a_full_recomputation(conn, "a real load on a synthetic date")
    assert fetch(conn, "SELECT count(*) FROM core.titles WHERE synthetic") == [(0,)]
    load(conn, "airing", DAYS[3], titles[25:30])  # an older date than the synthetic latest one
    assert_titles_match_a_full_recomputation(conn, "a real load before the synthetic latest date")

    # rows written without updating core.titles (not what the history generator does): a title the upsert
    # finds missing from core.titles but with other rows is recomputed from all of them
    newcomer = {**titles[0], "mal_id": 990_000_777, "title": "Newcomer"}
    with conn, conn.cursor() as cur:
        cur.execute("""
            INSERT INTO core.anime_snapshots (snapshot_type, snapshot_date, mal_id, list_position, title, members,
                                              genres, payload, run_id, synthetic)
            VALUES ('upcoming', %s, %s, 99, 'Newcomer (older)', 5, '{Drama}', '{"synthetic": true}', 's', true)""",
                    (DAYS[5], newcomer["mal_id"]))
    load(conn, "movies", DAYS[2], [newcomer])
    assert_titles_match_a_full_recomputation(conn, "a new title with rows core.titles did not know of")


def test_two_upserts_at_once_each_see_the_others_titles(warehouse, warehouse_db, corpus):
    """The upkeep of the second upsert waits for the first to commit, then starts from its titles."""
    rng = random.Random(3)
    titles = [variant(raw, rng) for raw in corpus[:40]]
    load(warehouse, "top", DAYS[1], titles)
    first = land(warehouse, "top", DAYS[2], [variant(r, rng) for r in titles], "first")
    second = land(warehouse, "movies", DAYS[2], [variant(r, rng) for r in titles[10:30]], "second")
    pipeline.validate(first, conn=warehouse, max_reject_share=0.05)
    pipeline.validate(second, conn=warehouse, max_reject_share=0.05)

    other = psycopg2.connect(dbname=warehouse_db, **PG)
    try:
        params = {"batch_id": first, "snapshot_type": "top", "snapshot_date": DAYS[2], "run_id": "first"}
        with other.cursor() as cur:  # the first upsert, up to its titles upkeep, not committed yet
            cur.execute(query("upsert_snapshot"), params)
            upserted = cur.fetchall()
            cur.execute(query("upkeep_titles"), {**params, "mal_ids": [m for m, _, _ in upserted],
                                                 "inserted": [i for _, i, _ in upserted], "removed": []})
        errors = []

        def second_upsert():
            conn = psycopg2.connect(dbname=warehouse_db, **PG)
            try:
                pipeline.upsert(second, conn=conn, run_id="second")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                conn.close()

        thread = threading.Thread(target=second_upsert)
        thread.start()
        thread.join(timeout=1.5)
        assert thread.is_alive(), "the second upsert's titles upkeep did not wait for the first"
        other.commit()
        thread.join(timeout=60)
        assert not thread.is_alive() and not errors, errors
    finally:
        other.close()
    assert_titles_match_a_full_recomputation(warehouse, "two upserts at once")


def test_the_upsert_takes_every_object_from_raw_exactly_as_landed(warehouse, corpus):
    rng = random.Random(11)
    records = [variant(raw, rng) for raw in corpus[:60]]
    records.insert(30, copy.deepcopy(records[3]))  # a duplicate: its first place counts
    batch_id = land(warehouse, "top", DAYS[0], records, "r")
    checked = pipeline.validate(batch_id, conn=warehouse, max_reject_share=0.05)
    assert (checked["valid"], checked["duplicates"]) == (60, 1)
    assert fetch(warehouse, "SELECT count(*) FROM core.staged_records WHERE batch_id = %s AND payload IS NULL",
                 (batch_id,)) == [(60,)]  # staging keeps where the object is, not the object
    pipeline.upsert(batch_id, conn=warehouse, run_id="r")
    mismatched = fetch(warehouse, """
        SELECT s.mal_id FROM core.anime_snapshots s
        JOIN core.staged_records st ON st.batch_id = s.batch_id AND st.mal_id = s.mal_id
        JOIN raw.jikan_pages p ON p.batch_id = st.batch_id AND p.page = st.page
        WHERE s.batch_id = %s AND s.payload IS DISTINCT FROM p.body -> 'data' -> (st.item - 1)""", (batch_id,))
    assert mismatched == []
    stored_payloads = dict(fetch(warehouse, "SELECT list_position, payload FROM core.anime_snapshots "
                                            "WHERE batch_id = %s", (batch_id,)))
    firsts = [r for i, r in enumerate(records) if i != 30]
    assert stored_payloads == {i + 1: r for i, r in enumerate(firsts)}


def test_a_real_load_over_a_synthetic_snapshot_of_its_date_makes_its_rows_and_titles_real(warehouse, corpus):
    """The history generator filled a date; a real run of that date (e.g. yesterday's, re-run) replaces its
    rows: they are real afterwards, the synthetic ones it no longer lists are gone, and the titles (their
    synthetic flag included) equal a full recomputation."""
    from anime_dashboard.history import generate_history

    generate_history(warehouse, end_date=DAYS[2], days=2, list_sizes={"top": 60, "airing": 10, "upcoming": 10,
                                                                      "movies": 10})
    synthetic_top = {m for (m,) in fetch(warehouse, "SELECT mal_id FROM core.anime_snapshots WHERE snapshot_type = "
                                                    "'top' AND snapshot_date = %s AND synthetic", (DAYS[2],))}
    records = [r for r in corpus if r["mal_id"] in synthetic_top][:30]
    assert len(records) >= 20, "the generator's top list should hold corpus titles"
    loaded = load(warehouse, "top", DAYS[2], records)
    assert loaded["updated"] == len(records) and loaded["removed"] == len(synthetic_top) - len(records)
    assert fetch(warehouse, "SELECT count(*), bool_or(synthetic), min(batch_id) IS NOT NULL FROM core.anime_snapshots "
                            "WHERE snapshot_type = 'top' AND snapshot_date = %s", (DAYS[2],)) == [
        (len(records), False, True)]
    assert fetch(warehouse, "SELECT synthetic FROM core.snapshots WHERE snapshot_type = 'top' AND snapshot_date = %s",
                 (DAYS[2],)) == [(False,)]
    assert_titles_match_a_full_recomputation(warehouse, "a real load over a synthetic date")
    # every loaded title has a real row now, so none of them is a synthetic title any more
    assert fetch(warehouse, "SELECT count(*), bool_or(synthetic) FROM core.titles WHERE mal_id = ANY (%s)",
                 ([r["mal_id"] for r in records],)) == [(len(records), False)]


def test_rows_staged_before_migration_005_still_load(warehouse, corpus):
    """A batch validated by the previous release (its objects in staging) and upserted after the upgrade."""
    records = corpus[:30]
    batch_id = land(warehouse, "airing", DAYS[0], records, "old")
    pipeline.validate(batch_id, conn=warehouse, max_reject_share=0.05)
    with warehouse, warehouse.cursor() as cur:  # as the previous release staged them
        cur.execute("""
            UPDATE core.staged_records st SET payload = p.body -> 'data' -> (st.item - 1), page = NULL, item = NULL
            FROM raw.jikan_pages p WHERE p.batch_id = st.batch_id AND p.page = st.page AND st.batch_id = %s""",
                    (batch_id,))
        cur.execute("UPDATE raw.jikan_pages SET body = '{\"data\": []}' WHERE batch_id = %s", (batch_id,))
    assert pipeline.upsert(batch_id, conn=warehouse, run_id="old")["inserted"] == 30
    assert dict(fetch(warehouse, "SELECT list_position, payload FROM core.anime_snapshots WHERE batch_id = %s",
                      (batch_id,))) == {i + 1: r for i, r in enumerate(records)}
    assert_titles_match_a_full_recomputation(warehouse, "legacy staging")


def broken_copies(raw: dict) -> list[dict]:
    """Ways a Jikan object can be wrong, in the fields the model reads and around them."""
    out = []
    for key, value in [("mal_id", None), ("mal_id", "x"), ("mal_id", True), ("mal_id", -3), ("title", ""),
                       ("title", None), ("members", "lots"), ("members", 1.5), ("score", 42), ("year", 1800),
                       ("genres", [{"mal_id": 1}]), ("aired", {"from": "not a date"}), ("episodes", -1)]:
        out.append({**raw, key: value})
    out.append({k: v for k, v in raw.items() if k != "title"})
    out.append({k: v for k, v in raw.items() if k != "mal_id"})
    out.append({**raw, "images": "unexpected", "synopsis": 12, "extra_field": {"nested": [1, 2]}})
    return out


def test_validating_the_cut_down_record_decides_as_validating_the_whole_object(corpus):
    keys = pipeline.VALIDATED_KEYS
    assert keys is not None and {"mal_id", "title", "genres", "aired"} <= keys and "images" not in keys
    cases = list(corpus) + [b for raw in corpus[:25] for b in broken_copies(raw)] + ["text", 3, None, []]
    accepted = rejected = 0
    for raw in cases:
        cut = {k: v for k, v in raw.items() if k in keys} if isinstance(raw, dict) else raw
        try:
            whole = AnimeRecord.model_validate(raw).snapshot_columns()
        except ValidationError:
            with pytest.raises(ValidationError):
                AnimeRecord.model_validate(cut)
            rejected += 1
            continue
        assert AnimeRecord.model_validate(cut).snapshot_columns() == whole
        accepted += 1
    assert accepted >= len(corpus) and rejected >= 300


def test_a_model_that_validates_more_than_its_fields_is_validated_whole():
    from pydantic import ConfigDict, model_validator

    class Strict(AnimeRecord):
        model_config = ConfigDict(extra="forbid")

    class Checked(AnimeRecord):
        @model_validator(mode="before")
        @classmethod
        def look_at_everything(cls, value):
            return value

    assert pipeline.validated_keys(Strict) is None and pipeline.validated_keys(Checked) is None


def test_rejects_keep_the_whole_object_and_the_errors_of_validating_it_whole(warehouse, corpus):
    records = [copy.deepcopy(r) for r in corpus[:40]]
    del records[7]["title"]  # "Field required": pydantic quotes the whole object in the error
    records[12]["members"] = "lots"
    batch_id = land(warehouse, "top", DAYS[0], records, "r")
    checked = pipeline.validate(batch_id, conn=warehouse, max_reject_share=0.1)
    assert checked["rejected"] == 2
    rejects = fetch(warehouse, "SELECT page, mal_id, payload, errors FROM core.rejects WHERE batch_id = %s "
                               "ORDER BY reject_id", (batch_id,))
    for (page, mal_id, payload, errors), raw in zip(rejects, (records[7], records[12])):
        assert (page, mal_id, payload) == (1, raw["mal_id"], raw)
        with pytest.raises(ValidationError) as exc:
            AnimeRecord.model_validate(payload)  # the object as stored (JSONB orders its keys)
        assert errors == pipeline.validation_errors(exc.value)
    assert "'url'" in rejects[0][3][0]["input"]  # the whole object is quoted, not the cut-down record


def test_validate_stages_and_rejects_what_validating_every_whole_object_gives(warehouse, corpus):
    """The server cuts records down to the keys validation reads, judged on the first page; later pages may
    bring other keys, records that are not objects, broken ones and repeats: the outcome is the same."""
    rng = random.Random(5)
    records = [variant(raw, rng) for raw in corpus[:70]]
    for r in records[:25]:  # the first page lacks keys that later pages have, and has some others
        r.pop("background", None)
        r["first_page_only"] = {"x": 1}
    records[30]["brand_new_key"] = [1, 2, 3]
    records[31] = "not an object"
    records[40] = {**records[40], "members": -5}
    records[41] = {k: v for k, v in records[41].items() if k != "mal_id"}
    records[52] = copy.deepcopy(records[33])  # a repeat
    # text that COPY's format and array literals must escape: tab, newline, CR, backslash, quotes, braces,
    # commas, NULL-like words and non-ASCII, in a title, a duration and tag names
    hostile = 'Tab\there\nnew line\r\\N \\ back "quoted" {braces}, comma NULL \u2605 \U0001F600'
    records[60] = {**records[60], "title": hostile, "duration": "\\N",
                   "genres": [{"mal_id": 1, "name": hostile}, {"mal_id": 2, "name": "NULL"},
                              {"mal_id": 3, "name": '"'}, {"mal_id": 4, "name": "\\"}]}
    batch_id = land(warehouse, "top", DAYS[0], records, "r")
    checked = pipeline.validate(batch_id, conn=warehouse, max_reject_share=0.1)

    # the previous algorithm: every whole object (as stored, read back) through the model
    (body_pages,) = zip(*fetch(warehouse, "SELECT body FROM raw.jikan_pages WHERE batch_id = %s ORDER BY page",
                               (batch_id,)))
    staged, rejected, seen = [], [], set()
    for page, body in enumerate(body_pages, start=1):
        for item, raw in enumerate(body["data"], start=1):
            try:
                record = AnimeRecord.model_validate(raw)
            except ValidationError as exc:
                rejected.append((page, raw.get("mal_id") if isinstance(raw, dict) else None, raw,
                                 pipeline.validation_errors(exc)))
                continue
            if record.mal_id not in seen:
                seen.add(record.mal_id)
                staged.append((record.mal_id, len(staged) + 1, page, item, record.snapshot_columns()))
    assert (checked["valid"], checked["rejected"], checked["duplicates"]) == (len(staged), len(rejected), 1)
    assert len(rejected) == 3
    # staging's typed columns, read back as the upsert's jsonb_populate_record did with the JSON of them
    got = fetch(warehouse, f"SELECT mal_id, list_position, page, item, {TYPED_COLUMNS} FROM core.staged_records "
                           "WHERE batch_id = %s ORDER BY list_position", (batch_id,))
    expected = fetch(warehouse, f"SELECT m, pos, page, item, {TYPED_COLUMNS} FROM unnest(%s::integer[], "
                                "%s::integer[], %s::integer[], %s::integer[], %s::jsonb[]) AS x (m, pos, page, item, "
                                "rec) CROSS JOIN LATERAL jsonb_populate_record(NULL::core.anime_snapshots, rec) AS r "
                                "ORDER BY pos",
                     [list(c) for c in zip(*[(m, pos, page, item, json.dumps(rec)) for m, pos, page, item, rec
                                             in staged])])
    assert got == expected and len(got) == len(staged)
    assert [g[4] for g in got if g[4] == hostile] == [hostile]
    assert fetch(warehouse, "SELECT page, mal_id, payload, errors FROM core.rejects WHERE batch_id = %s "
                            "ORDER BY reject_id", (batch_id,)) == rejected


def test_a_batch_staged_as_json_before_migration_006_loads_the_same_after_it(tmp_path, corpus):
    """Upgrade path: a batch validated by the release before 006 (typed columns as a JSON record in staging)
    and upserted after the upgrade gives the snapshot a fresh validate + upsert gives."""
    from support import migrations_before
    from testkit.warehouse import scratch_database

    from anime_dashboard.warehouse.migrations import apply_migrations

    before_006 = migrations_before(tmp_path, "006")
    rng = random.Random(6)
    records = [variant(raw, rng) for raw in corpus[:50]]
    with scratch_database("ad_test_m006") as (name, conn):
        assert apply_migrations(conn, before_006)[-1] == "005_incremental_load.sql"
        now = datetime.now(timezone.utc)
        with conn, conn.cursor() as cur:  # the previous release's extract (no list definitions yet)
            cur.execute("INSERT INTO raw.extract_batches (dag_id, run_id, snapshot_type, snapshot_date, query, "
                        "started_at, finished_at) VALUES ('d', 'old', 'top', %s, '{}', %s, %s) "
                        "RETURNING batch_id", (DAYS[0], now, now))
            batch_id = cur.fetchone()[0]
            for p in pages_of(records, now):
                cur.execute("INSERT INTO raw.jikan_pages (batch_id, page, request_url, http_status, fetched_at, "
                            "body) VALUES (%s, %s, %s, %s, %s, %s)",
                            (batch_id, p.page, p.url, p.status, p.fetched_at, json.dumps(p.body)))
        staged = []
        for item, raw in enumerate(records, start=1):  # the previous release's validate, in its shape
            rec = AnimeRecord.model_validate(raw)
            staged.append((batch_id, rec.mal_id, item, (item - 1) // PAGE_SIZE + 1,
                           (item - 1) % PAGE_SIZE + 1, json.dumps(rec.snapshot_columns())))
        with conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO core.staged_records (batch_id, mal_id, list_position, page, item, "
                            "record) VALUES (%s, %s, %s, %s, %s, %s)", staged)
        assert apply_migrations(conn)[0] == "006_typed_staging.sql"
        assert pipeline.upsert(batch_id, conn=conn, run_id="old")["inserted"] == 50
        upgraded = fetch(conn, "SELECT * FROM core.anime_snapshots ORDER BY mal_id")
        pipeline.validate(batch_id, conn=conn, max_reject_share=0)  # now as this release stages it
        pipeline.upsert(batch_id, conn=conn, run_id="old")
        fresh = fetch(conn, "SELECT * FROM core.anime_snapshots ORDER BY mal_id")
        columns = 4 + len(TYPED_COLUMNS.split(", "))  # business columns, before payload and times
        assert len(upgraded) == 50 and [r[:columns + 1] for r in upgraded] == [r[:columns + 1] for r in fresh]
