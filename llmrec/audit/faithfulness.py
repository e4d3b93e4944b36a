"""Counterfactual faithfulness: did the history items a justification cites actually drive the ranking?

For a stored recommendation whose justification cites history items ("history:<id>" evidence, or a history title
named in the text), the ranker re-scores the same candidates, in the same retrieval order and with the same seeded
shuffle, once with the full history and once with each cited item removed. The citation is faithful when removing
the item makes the recommended item's rank fall. A cited item older than the ranker's history window was never in the
prompt, so removing it cannot matter: that is recorded (``in_prompt: false``) and counts as unfaithful, because the
justification claimed an influence the model never saw.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from llmrec.audit.record import AuditRecord
from llmrec.claims.text import mentions


class HistoryRemoval(BaseModel):
    history_id: str
    title: str
    in_prompt: bool = Field(description="whether the item was inside the ranker's history window at all")
    rank_without: int = Field(description="1-based rank of the recommended item with this history item removed")
    fell: bool = Field(description="the rank got worse (a larger number) without it")


class FaithfulnessResult(BaseModel):
    item_id: str
    cited: list[str]
    stored_rank: int = Field(description="1-based rank in the stored ranking")
    replayed_rank: int = Field(description="1-based rank when the ranker is re-run with the full history")
    removals: list[HistoryRemoval] = Field(default_factory=list)
    faithful: bool = Field(description="removing every cited item lowered the rank")
    notices: list[str] = Field(default_factory=list)


def cited_history(justification: str, evidence: list[str], history: dict[str, str]) -> list[str]:
    """History item ids a justification relies on: declared ``history:<id>`` evidence and history titles it names."""
    cited = [e.split(":", 1)[1] for e in evidence if e.startswith("history:")]
    cited += [h for h, title in history.items() if mentions(justification, title)]
    return [h for h in dict.fromkeys(cited) if h in history]


class FaithfulnessProbe:
    """Re-ranks stored recommendations with cited history items removed, using a loaded LLM backend."""

    def __init__(self, workspace, backend, ranker_config, library=None):
        from llmrec.prompts import default_library

        self.workspace = workspace
        self.backend = backend
        self.ranker_config = ranker_config
        self.library = library or default_library()

    @classmethod
    def from_recommender(cls, recommender) -> "FaithfulnessProbe":
        return cls(recommender.workspace, recommender.backend, recommender.config.ranker)

    def _ranker(self, record: AuditRecord):
        """A ranker with the ranker settings the record was served with (prior weight, seed, history window)."""
        from pydantic import ValidationError

        from llmrec.config import RankerConfig
        from llmrec.ranking.ranker import LLMRanker

        config = self.ranker_config
        if isinstance(record.config.get("ranker"), dict):
            try:
                config = RankerConfig.model_validate(record.config["ranker"])
            except ValidationError:
                pass
        return LLMRanker(self.backend, self.library, config), config

    def probe(self, record: AuditRecord,
              cited: dict[str, list[str]]) -> tuple[dict[str, FaithfulnessResult], list[str]]:
        """``cited``: recommended item id -> cited history ids. Returns results per item and notices."""
        cited = {item: ids for item, ids in cited.items() if ids}
        if not cited:
            return {}, []
        if record.model != self.backend.model_id or record.adapter != self.backend.adapter_id:
            return {}, [f"record {record.request_id}: served by {record.model} + {record.adapter or 'no adapter'}, "
                        f"but the loaded model is {self.backend.model_id} + {self.backend.adapter_id or 'no adapter'};"
                        " faithfulness not measured"]
        ordered = sorted(record.candidates, key=lambda c: (c.retrieval_rank, c.shown_position))
        stored = self.workspace.get_items([c.item_id for c in ordered] + list(record.history))
        missing = [c.item_id for c in ordered if c.item_id not in stored]
        if missing:
            return {}, [f"record {record.request_id}: {len(missing)} candidate(s) no longer in the workspace "
                        f"({', '.join(missing[:3])}); faithfulness not measured"]
        candidates = [stored[c.item_id] for c in ordered]
        history = [stored[h] for h in record.history if h in stored]
        ranker, config = self._ranker(record)
        query = record.request.query.strip()
        # The evidence levels are held as served: this measures what the cited item itself does in the prompt.
        collab = {c.item_id: c.collab_rank for c in record.candidates if c.collab_rank is not None}
        # ... and so are the request's conditions, which the ranking prompt stated
        conditions = [c.label for c in record.interpretation.effective] if record.interpretation else []
        baseline = ranker.rank(query, history, candidates, collab_rank=collab, conditions=conditions).ranked
        stored_order = [c.item_id for c in sorted(record.candidates, key=lambda c: (-c.score, c.retrieval_rank))]
        window = {h.id for h in ranker.history_shown(history)}
        notices = []
        if baseline != stored_order:
            notices.append(f"record {record.request_id}: re-ranking with the full history does not reproduce the "
                           "stored order (config or model changed since); ranks are compared with the re-run")
        without: dict[str, list[str]] = {}
        results = {}
        for item_id, history_ids in cited.items():
            if item_id not in baseline:
                continue
            removals = []
            for h in history_ids:
                if h not in without:
                    rest = [x for x in history if x.id != h]
                    without[h] = ranker.rank(query, rest, candidates, collab_rank=collab,
                                             conditions=conditions).ranked
                rank = without[h].index(item_id) + 1
                removals.append(HistoryRemoval(history_id=h, title=stored[h].title if h in stored else h,
                                               in_prompt=h in window, rank_without=rank,
                                               fell=rank > baseline.index(item_id) + 1))
            results[item_id] = FaithfulnessResult(
                item_id=item_id, cited=history_ids,
                stored_rank=stored_order.index(item_id) + 1 if item_id in stored_order else -1,
                replayed_rank=baseline.index(item_id) + 1, removals=removals,
                faithful=bool(removals) and all(r.fell for r in removals))
        return results, notices
