"""The claim engine: one set of rules that decides whether a sentence about an item is true of the item, the user's
history and the request. The justifier runs it on every generated sentence before showing it, the audit on every
stored one, so a sentence the justifier shows is never one the audit flags.

- ``grounds.Grounds``: what a claim is checked against (card fields and media text lines, history, request,
  candidates); ``catalog.Catalog``: every title and the genre vocabulary;
- ``checker.ClaimChecker``: splits a text into claims (``split``), runs the rules (``rules/``: titles, numbers,
  genres, awards, names and people, support by word overlap) and returns a ``verdicts.Verdict``: a label per claim,
  the rule that decided it and its typed sources;
- vocabulary lives in ``data/`` (``vocabulary``), never in code.
"""

from __future__ import annotations

from llmrec.claims.catalog import Catalog
from llmrec.claims.checker import ClaimChecker
from llmrec.claims.grounds import Grounds
from llmrec.claims.verdicts import ClaimVerdict, Finding, Flags, Source, Verdict, flags_of

__all__ = ["Catalog", "ClaimChecker", "ClaimVerdict", "Finding", "Flags", "Grounds", "Source", "Verdict", "flags_of"]
