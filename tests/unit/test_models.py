"""The anime model accepts every real Jikan object and rejects drift with readable errors."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from anime_dashboard.models import AnimeRecord, validation_errors

CORPUS = json.loads((Path(__file__).resolve().parents[2] / "include/anime_dashboard/jikan/data/anime.json")
                    .read_text(encoding="utf-8"))


def test_every_object_in_the_bundled_corpus_validates():
    assert len(CORPUS) == 415
    records = [AnimeRecord.model_validate(obj) for obj in CORPUS]
    assert {r.mal_id for r in records} == {o["mal_id"] for o in CORPUS}


def test_upcoming_titles_with_null_score_rank_and_year_validate():
    upcoming = [o for o in CORPUS if o["status"] == "Not yet aired"]
    assert len(upcoming) == 25
    nulls = [o for o in upcoming if o["score"] is None and o["rank"] is None and o["year"] is None]
    assert nulls, "the corpus should hold upcoming titles with null score, rank and year"
    for obj in nulls:
        cols = AnimeRecord.model_validate(obj).snapshot_columns()
        assert cols["score"] is None and cols["rank"] is None and cols["year"] is None


def test_the_title_with_a_null_type_validates():
    (obj,) = [o for o in CORPUS if o["type"] is None]
    assert AnimeRecord.model_validate(obj).type is None


def test_snapshot_columns_carry_typed_values_and_list_names():
    obj = next(o for o in CORPUS if o["mal_id"] == 457)
    cols = AnimeRecord.model_validate(obj).snapshot_columns()
    assert cols["title"] == "Mushishi" and cols["score"] == 8.67 and cols["members"] == 767405
    assert cols["studios"] == ["Artland"] and "Adventure" in cols["genres"]
    assert cols["aired_from"].startswith("2005-10-23")


def test_unknown_fields_are_allowed():
    obj = copy.deepcopy(CORPUS[0])
    obj["brand_new_field"] = {"x": 1}
    assert AnimeRecord.model_validate(obj).mal_id == obj["mal_id"]


@pytest.mark.parametrize("field,value,loc", [
    ("members", "lots", "members"),
    ("score", 11.5, "score"),
    ("mal_id", None, "mal_id"),
    ("title", "", "title"),
    ("episodes", 12.5, "episodes"),
    ("genres", [{"mal_id": 1}], "genres.0.name"),
])
def test_drifted_records_fail_with_the_field_named(field, value, loc):
    obj = copy.deepcopy(CORPUS[0])
    obj[field] = value
    with pytest.raises(ValidationError) as info:
        AnimeRecord.model_validate(obj)
    errors = validation_errors(info.value)
    assert loc in [e["loc"] for e in errors]
    json.dumps(errors)  # storable as JSONB


def test_a_missing_optional_field_is_fine_but_a_missing_title_is_not():
    obj = copy.deepcopy(CORPUS[0])
    del obj["synopsis"], obj["score"]
    assert AnimeRecord.model_validate(obj).score is None
    del obj["title"]
    with pytest.raises(ValidationError):
        AnimeRecord.model_validate(obj)
