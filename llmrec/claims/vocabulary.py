"""The engine's word lists, read from the data files beside this module (``data/*.txt``, ``data/*.json``).

Vocabulary is data: adding a genre, an award or a cue word is a one-line diff of a text file, reviewed like any other,
and no rule hides a list of its own. A ``.txt`` file holds one entry a line (``#`` starts a comment line); entries may
be phrases ("rather than"). Files are read once, on first use, so importing the engine costs nothing.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

_PACKAGE = "llmrec.claims"


def _text(filename: str) -> str:
    return resources.files(_PACKAGE).joinpath("data", filename).read_text(encoding="utf-8")


@cache
def ordered(name: str) -> tuple[str, ...]:
    """The entries of ``data/<name>.txt`` in file order (order matters for the stemmer's suffixes)."""
    lines = (line.strip() for line in _text(f"{name}.txt").splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


@cache
def words(name: str) -> frozenset[str]:
    """The entries of ``data/<name>.txt`` as a set, for membership tests."""
    return frozenset(ordered(name))


@cache
def table(name: str) -> dict:
    """``data/<name>.json`` without its ``_comment`` key."""
    data = json.loads(_text(f"{name}.json"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def alternation(entries) -> str:
    """A regex alternation matching any of ``entries`` literally, longest first (so "rather than" wins over a prefix
    of it)."""
    return "|".join(re.escape(e) for e in sorted(set(entries), key=lambda e: (-len(e), e)))


@cache
def not_names() -> frozenset[str]:
    """Words that open a sentence capitalised without being a name: function words, recommendation talk, clause
    starts, kind nouns, days and months, number words and other ordinary openers ("Dark and tense...")."""
    return (words("stopwords") | words("generic_words") | words("clause_start") | words("kind_nouns")
            | words("calendar") | frozenset(table("number_words")) | words("ordinary_words"))
