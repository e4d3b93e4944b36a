"""How people phrase conditions in English, as data (``data/vocabulary.json``), loaded once.

Catalog vocabularies (its kinds, genres, people, titles) are learned from the catalog (``llmrec.request.facets``);
this file only holds the language around them: negation cues, comparison words, units, how kinds and genres are
commonly named. Editing the JSON changes the parser without touching code.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict


class Vocabulary(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    negation_cues: list[str]
    only_cues: list[str]
    scope_breaks: list[str]
    scope_continues: list[str]
    anchor_cues: list[str]
    people_cues: dict[str, list[str]]
    people_fields: dict[str, list[str]]
    categorical_fields: list[str]
    kind_fields: list[str]
    kinds: dict[str, list[str]]
    genre_groups: list[list[str]]
    romcom: list[str]
    generic_words: list[str]
    year_cues_before: list[str]
    year_cues_after: list[str]
    year_cues_in: list[str]
    year_trailing_after: list[str]
    year_trailing_before: list[str]
    less_trailing: list[str]
    more_trailing: list[str]
    strict_cues: list[str]
    decade_modifiers: dict[str, list[int]]
    less_cues: list[str]
    more_cues: list[str]
    about_cues: list[str]
    minute_units: list[str]
    hour_units: list[str]
    rating_cues: list[str]


@cache
def load_vocabulary() -> Vocabulary:
    text = resources.files("llmrec.request").joinpath("data/vocabulary.json").read_text(encoding="utf-8")
    return Vocabulary.model_validate(json.loads(text))


class _Lazy:
    """``VOCABULARY.x`` reads the file on first use, so importing the package costs nothing."""

    def __getattr__(self, name: str):
        return getattr(load_vocabulary(), name)


VOCABULARY: Vocabulary = _Lazy()  # type: ignore[assignment]
