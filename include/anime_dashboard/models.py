"""The anime record as Jikan v4 sends it, and its validation (pydantic v2).

Nulls are normal (upcoming titles have no score, rank, year, season, often no episodes or type),
so every field analysts use is optional except the identity: ``mal_id`` and ``title``.
Unknown fields are kept (Jikan adds fields over time); the full object is stored as JSONB anyway.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Entity(BaseModel):
    """A genre, theme, demographic, studio or producer reference."""

    model_config = ConfigDict(extra="allow")
    mal_id: int = Field(gt=0)
    name: str = Field(min_length=1)


class Aired(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None


class AnimeRecord(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False)

    mal_id: int = Field(gt=0)
    title: str = Field(min_length=1)
    title_english: str | None = None
    title_japanese: str | None = None
    type: str | None = None
    source: str | None = None
    episodes: int | None = Field(default=None, ge=0)
    status: str | None = None
    airing: bool | None = None
    aired: Aired | None = None
    duration: str | None = None
    rating: str | None = None
    score: float | None = Field(default=None, ge=0, le=10)
    scored_by: int | None = Field(default=None, ge=0)
    rank: int | None = Field(default=None, ge=0)
    popularity: int | None = Field(default=None, ge=0)
    members: int | None = Field(default=None, ge=0)
    favorites: int | None = Field(default=None, ge=0)
    season: str | None = None
    year: int | None = Field(default=None, ge=1900, le=2100)
    genres: list[Entity] = Field(default_factory=list)
    themes: list[Entity] = Field(default_factory=list)
    demographics: list[Entity] = Field(default_factory=list)
    studios: list[Entity] = Field(default_factory=list)

    @field_validator("genres", "themes", "demographics", "studios", mode="before")
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("mal_id", "episodes", "scored_by", "rank", "popularity", "members", "favorites",
                     "year", mode="before")
    @classmethod
    def _no_floats_or_bools_for_counts(cls, value: Any) -> Any:
        # pydantic's lax mode accepts "12" and 12.0; a count that is a bool or a fraction is drift.
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("must be a whole number")
        return value

    def snapshot_columns(self) -> dict[str, Any]:
        """The typed columns of core.anime_snapshots (payload is stored beside them)."""
        return {
            "mal_id": self.mal_id,
            "title": self.title,
            "title_english": self.title_english,
            "title_japanese": self.title_japanese,
            "type": self.type,
            "source": self.source,
            "episodes": self.episodes,
            "status": self.status,
            "airing": self.airing,
            "aired_from": self.aired.from_.isoformat() if self.aired and self.aired.from_ else None,
            "aired_to": self.aired.to.isoformat() if self.aired and self.aired.to else None,
            "duration": self.duration,
            "rating": self.rating,
            "score": self.score,
            "scored_by": self.scored_by,
            "rank": self.rank,
            "popularity": self.popularity,
            "members": self.members,
            "favorites": self.favorites,
            "season": self.season,
            "year": self.year,
            "genres": [g.name for g in self.genres],
            "themes": [g.name for g in self.themes],
            "demographics": [g.name for g in self.demographics],
            "studios": [g.name for g in self.studios],
        }


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """JSON-safe list of what was wrong: field path, message, offending input (shortened)."""
    out = []
    for err in exc.errors(include_url=False):
        value = err.get("input")
        text = value if isinstance(value, (int, float, bool, type(None))) else repr(value)[:200]
        out.append({"loc": ".".join(str(p) for p in err["loc"]), "msg": err["msg"],
                    "type": err["type"], "input": text})
    return out
