"""Whom a claim is about, and what it denies: the request ("you asked for..."), the user ("you loved..."), or
negation ("not a horror film"). Rules consult these to decide which grounds may back a claim: the request's words
back only what is said about the request, the history's cards only what is said about the user, and a negated genre,
award or number word is not claimed of the item."""

from __future__ import annotations

import re
from functools import cache

from llmrec.claims.vocabulary import alternation, table, words


@cache
def _request_cue() -> re.Pattern:
    cues = table("request_cues")
    return re.compile(rf"\b(?:{alternation(cues['subjects'])})\s+(?:\w+\s+)?(?:{alternation(cues['verbs'])})\b"
                      rf"|\byour\s+(?:\w+\s+)?(?:{alternation(cues['nouns'])})\b"
                      rf"|\b(?:{alternation(cues['phrases'])})\b", re.IGNORECASE)


@cache
def _user_cue() -> re.Pattern:
    return re.compile(rf"\b(?:{alternation(words('user_cues'))})\b", re.IGNORECASE)


@cache
def _negation() -> re.Pattern:
    # a negation word, then at most a few words up to the end of the text before the word being checked
    return re.compile(rf"\b(?:{alternation(words('negation'))})\b[\w\s'’-]{{0,20}}$", re.IGNORECASE)


@cache
def _had() -> str:
    return rf"you(?:'ve|’ve| have)?\s+(?:already\s+|also\s+)?(?:{alternation(words('experience_verbs'))})"


def says_user_had(text: str, title: str) -> bool:
    """Whether ``text`` says the user already had ``title`` itself: "<title>, which you enjoyed" or "you watched
    <title>" (not "you enjoyed X, and <title> is ...", which speaks of another item)."""
    t, had = re.escape(title), _had()
    return re.search(rf"\b{t}\W{{0,3}}(?:which|that)\s+{had}\b|\b{had}\s+{t}\b", text, re.IGNORECASE) is not None


def about_request(text: str) -> bool:
    """Whether ``text`` speaks of the request ("you asked for", "your mood", "just what you wanted")."""
    return _request_cue().search(text) is not None


def about_user(text: str) -> bool:
    """Whether ``text`` speaks of the user or their history ("you loved", "your favourite", "fans of")."""
    return _user_cue().search(text) is not None


def negated(before: str) -> bool:
    """Whether the words right before a term negate it (``before``: the text up to the term)."""
    return _negation().search(before) is not None
