"""An answer in two steps: the ranked list at once, its justifications as they are written.

Ranking costs one forward pass; writing justifications costs a generation per item. ``Recommender.rank`` returns a
``RankedAnswer`` whose list can be shown straight away; ``Recommender.justify`` returns a ``JustificationStream``
that yields each item's justification in rank order and, once the last one is written, stores the answer's one audit
record (with every justification in it). ``Recommender.ask`` is the two run back to back.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from llmrec.api import AskRequest, ItemJustification, RankedList, Recommendation, RecommendedItem, Timings


@dataclass
class RankedAnswer:
    """A ranked answer whose justifications are still to come: the list to show, and what justifying and recording
    it need (the stored items, the ranker's result, the retrieved candidates)."""

    request: AskRequest
    ranked: RankedList
    top: list          # StoredItem per ranked item, in rank order
    candidates: list   # StoredItem of every candidate the ranker saw
    history: list      # StoredItem of the history the request used
    history_ids: list[str]
    result: Any        # the ranker's RankResult (shown order, logprobs, scores, prompt)
    retrieved: list    # the fused retrieval candidates (their ranks and sources go into the record)
    started: float     # perf_counter at the start of the request
    ratings: dict[str, float] = field(default_factory=dict)  # the user's ratings by item id (reasons from history)
    justifications: list[ItemJustification] = field(default_factory=list)  # in rank order, as they come
    justify_s: float = 0.0
    recommendation: Recommendation | None = None  # set once the stream has finished (or was closed)

    @property
    def request_id(self) -> str:
        return self.ranked.request_id

    def complete(self, notices: list[str] = ()) -> Recommendation:
        """The answer as ``ask`` returns it; items whose justification never came carry an empty one."""
        written = {j.item_id: j for j in self.justifications}
        items = []
        for it in self.ranked.items:
            j = written.get(it.item_id)
            items.append(RecommendedItem(**it.model_dump(), justification=j.justification if j else "",
                                         evidence=list(j.evidence) if j else [], generated=j.generated if j else False))
        t = self.ranked.timings
        total = time.perf_counter() - self.started
        return Recommendation(
            request_id=self.request_id, query=self.ranked.query, user_id=self.ranked.user_id, items=items,
            model=self.ranked.model, adapter=self.ranked.adapter, backend=self.ranked.backend,
            dtype=self.ranked.dtype, candidates=list(self.ranked.candidates), notices=list(dict.fromkeys([*self.ranked.notices, *notices])),
            interpretation=self.ranked.interpretation,
            timings=Timings(retrieve_s=t.retrieve_s, rank_s=t.rank_s, rank_pass_s=t.rank_pass_s,
                            justify_s=round(self.justify_s, 4),
                            total_s=round(total, 4)))


class JustificationStream(Iterator[ItemJustification]):
    """The justifications of a ``RankedAnswer`` in rank order, written ``batch`` items per model call (None: all
    in one call), and the answer's audit record stored exactly once.

    The record is stored when the last justification is written, or by ``close`` when a consumer stops early (a
    client that went away): then it holds the justifications written so far and says the rest were never written.
    ``next`` and ``close`` may be called from different threads (a service runs each step in a worker thread), never
    at the same time: a lock orders them.
    """

    def __init__(self, answer: RankedAnswer, write: Callable[[list], list], record: Callable[[RankedAnswer], None],
                 batch: int | None = None):
        """
        Args:
            write: ``items -> [Justification]`` for a list of stored items (the justifier, bound to the request).
            record: stores ``answer.recommendation`` (and the ranking behind it) in the audit store.
        """
        self.answer = answer
        self._write = write
        self._record = record
        self._batch = batch
        self._pending = list(range(len(answer.top)))
        self._ready: deque[ItemJustification] = deque()
        self._lock = threading.Lock()
        self._finished = False

    @property
    def finished(self) -> bool:
        """Whether the answer is complete and recorded (every justification written, or the stream was closed)."""
        return self._finished

    def __iter__(self) -> JustificationStream:
        return self

    def __next__(self) -> ItemJustification:
        with self._lock:
            if not self._ready and self._pending and not self._finished:
                self._write_next_batch()
                if not self._pending:
                    self._finish()
            if self._ready:
                return self._ready.popleft()
            if not self._finished:  # nothing to justify (k = 0 items): the answer is complete as it is
                self._finish()
            raise StopIteration

    def close(self) -> None:
        """Stop: record the answer as it stands (no-op once it is recorded)."""
        with self._lock:
            if not self._finished:
                left = len(self.answer.top) - len(self.answer.justifications)
                notice = (f"the answer was closed before {left} of {len(self.answer.top)} justification(s) were "
                          "written" if left else "")
                self._finish([notice] if notice else [])

    def _write_next_batch(self) -> None:
        size = self._batch or len(self._pending)
        indices, self._pending = self._pending[:size], self._pending[size:]
        t0 = time.perf_counter()
        written = self._write([self.answer.top[i] for i in indices])
        self.answer.justify_s += time.perf_counter() - t0
        for i, j in zip(indices, written):
            item = ItemJustification(item_id=self.answer.ranked.items[i].item_id, rank=self.answer.ranked.items[i].rank,
                                     justification=j.justification, evidence=list(j.evidence),
                                     generated=j.generated)
            self.answer.justifications.append(item)
            self._ready.append(item)

    def _finish(self, notices: list[str] = ()) -> None:
        self.answer.recommendation = self.answer.complete(notices)
        self._finished = True
        self._record(self.answer)
