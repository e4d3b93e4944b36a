"""The claim rules, one module each, in the order they run. Each settles what it can of a claim (adds findings and
blanks the words it judged out of ``ClaimWork.masked``), so a later rule never judges the same words again: titles
first (a title may hold a number or a name), then numbers, genres, awards, names; word overlap (``support``) weighs
whatever is left."""

from __future__ import annotations

from collections.abc import Callable

from llmrec.claims.catalog import Catalog
from llmrec.claims.claim import ClaimWork
from llmrec.claims.grounds import Grounds
from llmrec.claims.rules import awards, genres, names, numbers, titles

RuleStep = Callable[[ClaimWork, Grounds, Catalog], None]

RULES: tuple[RuleStep, ...] = (titles.apply, numbers.apply, genres.apply, awards.apply, names.apply)
