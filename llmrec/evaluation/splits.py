"""From an interaction log to leave-one-out splits: k-core filtering, LlamaRec's tie order, the split itself.

Per-user sequences come from ``llmrec.catalog.interactions.user_sequences``, with one of two ways to order a user's
events that share a timestamp:

- ``"item"``: by item id, as LlamaRec (and most sequential-recommendation code derived from BERT4Rec's) does. It is
  needed to reproduce published numbers, but it puts information into the order that was never in the log: the last
  item of a burst of same-second ratings becomes "the one with the largest id", which a model can partly learn.
- ``"row"``: by the row order of the original file, the order the events were actually recorded in. This is the
  honest variant.

Only ties are affected; distinct timestamps always order events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from llmrec.catalog.interactions import InteractionLog, natural_item_key


def k_core(log: InteractionLog, min_user: int = 5, min_item: int = 5) -> InteractionLog:
    """Keep only users with >= ``min_user`` and items with >= ``min_item`` interactions, repeated to a fixpoint.

    Dropping a sparse item can push a user below the threshold and vice versa, so one pass is not enough; LlamaRec
    iterates too (its ``filter_triplets``), which is what yields 610 users, 3,650 items and 90,274 interactions on
    ml-latest-small with 5-core. The input order is preserved.
    """
    kept = np.arange(len(log))
    while True:
        users, items = log.users[kept], log.items[kept]
        user_counts = np.bincount(users, minlength=len(log.user_ids))
        item_counts = np.bincount(items, minlength=len(log.item_ids))
        keep = (user_counts[users] >= min_user) & (item_counts[items] >= min_item)
        if keep.all():
            return log.select(kept)
        kept = kept[keep]


def llamarec_item_order(log: InteractionLog) -> dict[str, int]:
    """Each item's index under LlamaRec's ``densify_index``: the iteration order of a Python ``set`` of the ids.

    LlamaRec breaks timestamp ties by this dense index, not by the MovieLens id. For integer ids the set's iteration
    order is a deterministic function of the ids and their insertion order (int hashes are not randomised), so
    building the same set in the same order reproduces LlamaRec's tie order exactly. The log must be in file order
    and already filtered the way LlamaRec filters it (5-core). Non-integer ids fall back to ``natural_item_key``
    order, because string hashes are randomised per process.
    """
    ids = log.item_column()
    if not all(natural_item_key(i)[0] == 0 for i in ids):
        return {item: n for n, item in enumerate(sorted(set(ids), key=natural_item_key), start=1)}
    by_int = {int(i): i for i in ids}
    return {by_int[value]: n for n, value in enumerate(set(int(i) for i in ids), start=1)}


@dataclass
class LeaveOneOut:
    """Leave-one-out split: per user, the last item is the test target and the second-last the validation target.

    ``train[u]`` is the sequence without its last two items. Users with fewer than three items have no targets;
    they are kept whole in ``train`` (their events still teach the model) and listed in ``too_short``.
    """

    train: dict[str, list[str]]
    valid: dict[str, str]
    test: dict[str, str]
    too_short: list[str] = field(default_factory=list)

    @property
    def users(self) -> list[str]:
        """Users that have validation and test targets, in split order."""
        return list(self.test)


def leave_one_out(sequences: Mapping[str, Sequence[str]]) -> LeaveOneOut:
    """Split ordered per-user sequences: last item = test, second-last = validation, the rest = training."""
    train: dict[str, list[str]] = {}
    valid: dict[str, str] = {}
    test: dict[str, str] = {}
    too_short: list[str] = []
    for user, items in sequences.items():
        if len(items) < 3:
            train[user] = list(items)
            too_short.append(user)
            continue
        train[user] = list(items[:-2])
        valid[user] = items[-2]
        test[user] = items[-1]
    return LeaveOneOut(train=train, valid=valid, test=test, too_short=too_short)


def count_stats(log: InteractionLog) -> dict[str, int]:
    """Users, items and interactions in a log (the numbers papers report after filtering)."""
    return {"users": len(np.unique(log.users)), "items": len(np.unique(log.items)), "interactions": len(log)}
