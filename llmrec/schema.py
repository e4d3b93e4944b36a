"""Request and response models shared by the Python API, the CLI's --json output and the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_QUERY_CHARS = 4000


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field("", max_length=MAX_QUERY_CHARS, description="what the person wants, in their words")
    user_id: str | None = Field(None, description="a known user; their history shapes candidates and ranking")
    history: list[str] | None = Field(None, description="item ids the person liked, oldest first (anonymous taste)")
    k: int = Field(5, description="how many items to return")
    include_seen: bool = Field(False, description="allow items already in the user's history")


class RecommendedItem(BaseModel):
    item_id: str
    title: str
    rank: int
    score: float = Field(description="log-probability the ranker gave this item's option letter")
    justification: str
    evidence: list[str] = Field(default_factory=list, description="card:<field> and history:<item id> it relies on")
    generated: bool = Field(True, description="false when the justification was built from card facts instead")


class Timings(BaseModel):
    retrieve_s: float = 0.0
    rank_s: float = 0.0
    justify_s: float = 0.0
    total_s: float = 0.0


class Recommendation(BaseModel):
    request_id: str
    query: str
    user_id: str | None = None
    items: list[RecommendedItem]
    model: str
    adapter: str | None = None
    backend: str
    candidates: list[str] = Field(default_factory=list, description="candidate ids in the order the ranker saw them")
    notices: list[str] = Field(default_factory=list)
    timings: Timings = Field(default_factory=Timings)
