"""Which reasons a justification states: each candidate reason scored by rules, the best one or two kept.

The order the rules encode: what the request asked for and the item really has (above all a request word that only
the item's audio or image holds: that is why it was found), then what ties it to this person (enjoyed items sharing a
person or a show, then genres; then people with the same taste), then what sets it apart from the other candidates,
then its rating. A fact the other candidates share too counts less. Rules only: an LLM pass over lettered reasons
(as the ranker scores items) is not built; what these rules choose is measured in ``eval/results/justifications.md``
(personal and specific rates).
"""

from __future__ import annotations

from llmrec.explain.gather import PEOPLE_ROLES
from llmrec.explain.reasons import Reason

MOST_REASONS = 2


def score(reason: Reason) -> float:
    """A reason's relevance: higher is stated first."""
    rarity = 1.0 - min((f.share for f in reason.facts), default=1.0)
    if reason.kind == "request":
        s = 4.0 + (1.0 if reason.quote is not None else 0.0) + (1.0 if reason.media_only else 0.0)
        return s + 0.2 * len(reason.facts) + 0.5 * rarity
    if reason.kind == "history":
        if all(f.role == "kind" for f in reason.facts):
            return 1.5  # only the kind in common: below who else enjoyed it, above what sets it apart
        people = any(f.role in (*PEOPLE_ROLES, "show") for f in reason.facts)
        return 2.5 + (0.8 if people else 0.0) + 0.2 * min(reason.co_users, 5) + (0.3 if reason.rated_highly else 0.0) \
            + 0.5 * rarity
    if reason.kind == "collaborative":
        return 2.0 + 0.1 * min(reason.co_users, 10)
    if reason.kind == "distinct":
        return 1.0 + rarity + (0.5 if any(f.role in PEOPLE_ROLES for f in reason.facts) else 0.0)
    return 0.8 if reason.kind == "rating" else 0.5  # the item's own kind and genres come last


def choose(reasons: list[Reason], most: int = MOST_REASONS) -> list[Reason]:
    """The best reason, then the best of another kind that states something the first does not."""
    scored = sorted((r.model_copy(update={"score": round(score(r), 4)}) for r in reasons), key=lambda r: -r.score)
    chosen: list[Reason] = []
    for r in scored:
        if len(chosen) >= most:
            break
        if any(r.kind == c.kind or _repeats(r, c) for c in chosen):
            continue
        if chosen and r.kind in ("rating", "distinct", "item") and chosen[0].kind != "request" and (
                r.kind != "distinct" or chosen[0].specific):
            continue  # about the item alone: worth its length only where the first part says nothing specific
        chosen.append(r)
    return chosen


def _repeats(a: Reason, b: Reason) -> bool:
    """Whether ``a`` says nothing that ``b`` does not (its facts and named items are all in ``b``)."""
    facts = {(f.field, f.value) for f in b.facts if f.role != "kind"}
    mine = {(f.field, f.value) for f in a.facts if f.role != "kind"}
    return mine <= facts and set(a.history) <= set(b.history) and a.quote is None
