"""What is recorded about every served recommendation: enough to replay it and to check its justifications."""

from __future__ import annotations

from pydantic import BaseModel, Field

from llmrec.request.conditions import RequestInterpretation
from llmrec.api import AskRequest, RecommendedItem, Timings


class PromptRef(BaseModel):
    template: str
    sha256: str


class CandidateScore(BaseModel):
    """One candidate as the ranker saw it."""

    item_id: str
    letter: str                 # its option letter in the prompt
    shown_position: int         # 0-based position in the (seeded, shuffled) option list
    retrieval_rank: int         # 0-based rank in the fused retrieval list
    logprob: float              # logprob of its letter
    score: float                # final score (logprob + retrieval prior)
    collab_rank: int | None = None  # rank in the collaborative model's list (its evidence level's source), if any


class AuditRecord(BaseModel):
    request_id: str
    created_at: float = Field(description="unix time the recommendation was served")
    request: AskRequest
    config_hash: str
    config: dict = Field(default_factory=dict, description="the resolved LLMRecConfig, model_dump(mode='json')")
    model: str
    adapter: str | None = None
    backend: str
    dtype: str | None = Field(None, description="dtype the ranking model ran in; None in older records and when a "
                              "server chose it")
    prompts: list[PromptRef] = Field(default_factory=list)
    ranking_prompt: str = ""
    history: list[str] = Field(default_factory=list, description="history item ids the request used, oldest first")
    candidates: list[CandidateScore] = Field(default_factory=list)
    items: list[RecommendedItem] = Field(default_factory=list)
    notices: list[str] = Field(default_factory=list)
    interpretation: RequestInterpretation | None = Field(None, description="how the request was read (conditions "
                                                         "applied, after any relaxation); None in older records")
    timings: Timings = Field(default_factory=Timings)
