"""People in roles: the words around a name give it a role ("directed by X", "starring X", "X's film"), and the card
says who holds that role (``Director:``, ``Cast:``). A name the card lacks, in a role the card gives to someone else,
is *contradicted*, not merely unsupported."""

from __future__ import annotations

import re
from functools import cache

from llmrec.claims.vocabulary import alternation, table, words


@cache
def _roles() -> list[tuple[str, re.Pattern, tuple[str, ...]]]:
    return [(role, re.compile(r"\b(?:" + alternation(spec["cues"]) + r")\s*(?:is\s+|was\s+|of\s+)?$"),
             tuple(spec["fields"])) for role, spec in table("roles").items()]


@cache
def _possessive() -> re.Pattern:
    return re.compile(r"^(?:'s|’s)\s+(?:\w+\s+){0,3}?(?:" + alternation(words("possessive_works")) + r")\b")


def role_of(before: str, after: str) -> str | None:
    """The role a name is given by the words around it, if any (``before``/``after``: the text either side)."""
    tail = before[-40:].lower()
    for role, pattern, _ in _roles():
        if pattern.search(tail):
            return role
    if _possessive().match(after.lower()):
        return "any"
    return None


def role_fields(role: str, fields: dict[str, str]) -> dict[str, str]:
    """The card's fields naming who holds ``role`` (empty: the card does not say)."""
    keys = next(keys for r, _, keys in _roles() if r == role)
    return {k: fields[k] for k in keys if fields.get(k)}
