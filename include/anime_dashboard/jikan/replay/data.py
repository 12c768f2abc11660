"""The bundled data files the replay serves from, and reading them.

``jikan/data/anime.json`` is the corpus (real Jikan anime objects, in the order they are served without
``order_by``); ``jikan/data/errors.json`` holds Jikan's recorded error bodies and response headers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_CORPUS_PATH = DATA_DIR / "anime.json"
ERRORS_PATH = DATA_DIR / "errors.json"


def load_corpus(path: Path) -> list[dict]:
    """The anime objects of a corpus file: a JSON list, or a saved Jikan envelope's ``data``."""
    with open(path, encoding="utf-8") as fh:
        corpus = json.load(fh)
    if isinstance(corpus, dict) and isinstance(corpus.get("data"), list):
        corpus = corpus["data"]
    if not isinstance(corpus, list):
        raise ValueError(f"{path}: expected a JSON list of anime objects")
    return corpus


def load_errors() -> dict[str, Any]:
    """The recorded error bodies and ``search_headers`` of ``errors.json``."""
    with open(ERRORS_PATH, encoding="utf-8") as fh:
        return json.load(fh)
