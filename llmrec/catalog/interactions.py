"""An interaction log as columns: one numpy array per field, one entry per event, in file order.

A log of a million ratings held as a million pydantic objects costs seconds to build and gigabytes to keep, and the
cyclic garbage collector rescans them on every allocation burst. Here users and items are integer codes into two
vocabularies (each in order of first appearance), so filtering, counting and ordering are array operations.
``Interaction`` stays the type of one validated event: ``log[i]`` and iterating a log give such events, for the
few places that look at single events of a small log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from llmrec.catalog.schema import Interaction

TieBreak = Literal["item", "row"]


def _codes(values: Iterable[str]) -> tuple[np.ndarray, list[str]]:
    """(codes, vocabulary): each value's index in the vocabulary of distinct values in order of first appearance."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64)
    return codes, list(index)


@dataclass(frozen=True, eq=False)
class InteractionLog:
    """Events as columns. ``users[n]``/``items[n]`` are codes into ``user_ids``/``item_ids``; ``ratings[n]`` is NaN
    for an event without a rating; ``rows[n]`` is the event's row in its file (ties in timestamp are broken by it).

    A filtered log (``select``) keeps the vocabularies whole, so codes stay comparable with the log it came from.
    """

    users: np.ndarray       # (N,) int64
    items: np.ndarray       # (N,) int64
    timestamps: np.ndarray  # (N,) float64
    ratings: np.ndarray     # (N,) float64, NaN = none
    rows: np.ndarray        # (N,) int64
    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]

    @classmethod
    def from_columns(cls, user_ids: Sequence[str], item_ids: Sequence[str], timestamps: Sequence[float],
                     ratings: Sequence[float | None] | None = None,
                     rows: Sequence[int] | None = None) -> "InteractionLog":
        """A log from one value per event and field; ``rows`` defaults to 0, 1, 2, ... and a missing rating is None
        (or NaN)."""
        n = len(user_ids)
        if not (len(item_ids) == len(timestamps) == n) or (ratings is not None and len(ratings) != n) \
                or (rows is not None and len(rows) != n):
            raise ValueError("every column of an interaction log needs one value per event")
        users, user_vocab = _codes(user_ids)
        items, item_vocab = _codes(item_ids)
        rating_column = (np.full(n, np.nan) if ratings is None else
                         np.fromiter((np.nan if r is None else r for r in ratings), dtype=np.float64, count=n))
        return cls(users=users, items=items, timestamps=np.asarray(timestamps, dtype=np.float64).reshape(n),
                   ratings=rating_column,
                   rows=np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64).reshape(n),
                   user_ids=tuple(user_vocab), item_ids=tuple(item_vocab))

    @classmethod
    def from_events(cls, events: Iterable[Interaction]) -> "InteractionLog":
        """A log from validated single events (tests, small hand-built logs)."""
        events = list(events)
        return cls.from_columns([e.user_id for e in events], [e.item_id for e in events],
                                [e.timestamp for e in events], [e.rating for e in events], [e.row for e in events])

    @classmethod
    def empty(cls) -> "InteractionLog":
        return cls.from_columns([], [], [])

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, index: int | slice) -> "Interaction | InteractionLog":
        """One event (an ``Interaction``) by position, or a log of a slice of the events."""
        if isinstance(index, slice):
            return self.select(np.arange(len(self))[index])
        n = range(len(self))[index]  # IndexError and negative positions as for a list
        rating = float(self.ratings[n])
        return Interaction.model_construct(user_id=self.user_ids[self.users[n]], item_id=self.item_ids[self.items[n]],
                                           timestamp=float(self.timestamps[n]),
                                           rating=None if np.isnan(rating) else rating, row=int(self.rows[n]))

    def __iter__(self) -> Iterator[Interaction]:
        """Each event as an ``Interaction``: for small logs; bulk work reads the columns."""
        return (self[n] for n in range(len(self)))

    def __add__(self, other: "InteractionLog") -> "InteractionLog":
        """This log's events, then ``other``'s (rows kept as they are: each file numbers its own rows)."""
        if not isinstance(other, InteractionLog):
            return NotImplemented
        if not len(other):
            return self
        if not len(self):
            return other
        return InteractionLog.from_columns([*self.user_column(), *other.user_column()],
                                           [*self.item_column(), *other.item_column()],
                                           np.concatenate([self.timestamps, other.timestamps]),
                                           np.concatenate([self.ratings, other.ratings]),
                                           np.concatenate([self.rows, other.rows]))

    def user_column(self) -> list[str]:
        """(N,) each event's user id."""
        return [self.user_ids[c] for c in self.users.tolist()]

    def item_column(self) -> list[str]:
        """(N,) each event's item id."""
        return [self.item_ids[c] for c in self.items.tolist()]

    def select(self, which: np.ndarray) -> "InteractionLog":
        """The events at ``which`` (a boolean mask or positions), in that order; vocabularies unchanged."""
        return InteractionLog(users=self.users[which], items=self.items[which], timestamps=self.timestamps[which],
                              ratings=self.ratings[which], rows=self.rows[which], user_ids=self.user_ids,
                              item_ids=self.item_ids)

    def with_items(self, allowed: Iterable[str]) -> "InteractionLog":
        """Only the events whose item id is in ``allowed`` (e.g. the catalog's items)."""
        allowed = set(allowed)
        keep = np.fromiter((i in allowed for i in self.item_ids), dtype=bool, count=len(self.item_ids))
        return self.select(keep[self.items]) if len(self.item_ids) else self

    def present_items(self) -> list[str]:
        """Ids of the items that occur in the events (a filtered log's vocabulary may hold more)."""
        return [self.item_ids[c] for c in np.unique(self.items).tolist()]

    def present_users(self) -> list[str]:
        return [self.user_ids[c] for c in np.unique(self.users).tolist()]

    def records(self) -> Iterator[tuple[str, str, float, float | None, int]]:
        """(user id, item id, timestamp, rating or None, row) per event: the workspace's table row."""
        ratings = [None if r != r else r for r in self.ratings.tolist()]  # NaN != NaN
        return zip(self.user_column(), self.item_column(), self.timestamps.tolist(), ratings, self.rows.tolist())


def natural_item_key(item_id: str) -> tuple[int, int | str]:
    """Sort key for external item ids: numerically when the id is an integer (MovieLens), else as text.

    Integers sort before non-integer strings so a mixed vocabulary still has one total order.
    """
    stripped = item_id.strip()
    if stripped.lstrip("-").isdigit():
        return (0, int(stripped))
    return (1, item_id)


def _item_ranks(log: InteractionLog, item_order: Mapping[str, int] | None) -> np.ndarray:
    """(I,) a sort rank per item code, equal for items that order the same: ``item_order`` or natural order."""
    present = set(log.present_items())
    if item_order is not None:
        missing = present - item_order.keys()
        if missing:
            raise ValueError(f"item_order lacks {len(missing)} item id(s), e.g. {sorted(missing)[:3]}")
        keys = [item_order.get(i, 0) for i in log.item_ids]
    else:
        keys = [natural_item_key(i) for i in log.item_ids]
    distinct = sorted(set(keys))
    rank = {key: r for r, key in enumerate(distinct)}
    return np.array([rank[k] for k in keys], dtype=np.int64)


def user_sequences(log: InteractionLog, tie_break: TieBreak = "row",
                   item_order: Mapping[str, int] | None = None) -> dict[str, list[str]]:
    """Each user's item ids in time order, users in order of first appearance in the log.

    Args:
        tie_break: ``"row"`` orders same-timestamp events by their file row (the honest variant); ``"item"`` by
            item id (LlamaRec's order). Events equal on both keep their order in the log.
        item_order: for ``tie_break="item"``, the rank of each item id (e.g. ``llamarec_item_order``); default:
            ``natural_item_key``.
    """
    if tie_break not in ("item", "row"):
        raise ValueError(f"tie_break must be 'item' or 'row', got {tie_break!r}")
    if not len(log):
        return {}
    tie = log.rows if tie_break == "row" else _item_ranks(log, item_order)[log.items]
    # Users in order of first appearance: rank each user code by the position of its first event.
    codes, first = np.unique(log.users, return_index=True)
    user_rank = np.empty(len(log.user_ids), dtype=np.int64)
    user_rank[codes[np.argsort(first, kind="stable")]] = np.arange(len(codes))
    order = np.lexsort((tie, log.timestamps, user_rank[log.users]))  # stable: full ties keep log order
    users, items = log.users[order], log.items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    item_ids = log.item_ids
    return {log.user_ids[users[s]]: [item_ids[i] for i in chunk.tolist()]
            for s, chunk in zip(starts.tolist(), np.split(items, starts[1:]))}
