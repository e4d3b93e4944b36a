"""Request and response models shared by the Python API, the CLI's --json output and the HTTP API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llmrec.request.conditions import RequestInterpretation

MAX_QUERY_CHARS = 4000
# The ranker labels each candidate with one letter (A-Z, a-z) and scores them in one pass, so one request can return
# at most this many items; RetrievalConfig.n_candidates has the same bound.
MAX_K = 52


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field("", max_length=MAX_QUERY_CHARS, description="what the person wants, in their words")
    user_id: str | None = Field(None, description="a known user; their history shapes candidates and ranking")
    history: list[str] | None = Field(None, description="item ids the person liked, oldest first (anonymous taste)")
    # The bound is published in the schema but enforced by Recommender.ask_request (a RequestError naming it), not
    # by validation here: audit records embed AskRequest, and ones stored before the bound must still load.
    k: int = Field(5, description=f"how many items to return, 1 to {MAX_K}",
                   json_schema_extra={"minimum": 1, "maximum": MAX_K})
    include_seen: bool = Field(False, description="allow items already in the user's history")
    parse: bool = Field(True, description="read hard conditions ('a podcast', 'from the eighties', 'not a comedy', "
                        "'directed by ...'), 'like <title>' anchors and avoided words from the query; false embeds "
                        "the query as typed")
    where: list[str] = Field(default_factory=list, description="conditions to add, as FACET=VALUE, FACET!=VALUE, "
                             "FACET<N, FACET>=N or FACET=LOW..HIGH (e.g. 'year<1970', 'genres!=Comedy'); each "
                             "replaces a parsed condition on the same facet", max_length=20)
    ignore: list[str] = Field(default_factory=list, description="parsed conditions to drop, by expression (as "
                              "`interpretation.conditions[].expression` gives it) or label", max_length=20)


class RankedItem(BaseModel):
    """One returned item as the ranker placed it, before its justification is written."""

    item_id: str
    title: str
    rank: int
    score: float = Field(description="log-probability the ranker gave this item's option letter")


class RecommendedItem(RankedItem):
    justification: str
    evidence: list[str] = Field(default_factory=list, description="card:<field> and history:<item id> it relies on")
    generated: bool = Field(True, description="false when the template stated the item's reasons (no LLM)")


class Timings(BaseModel):
    retrieve_s: float = 0.0
    rank_s: float = 0.0
    rank_pass_s: float = Field(0.0, description="of rank_s, the model's forward pass (the rest builds the prompt)")
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
    dtype: str | None = Field(None, description="dtype the ranking model ran in (float32, bfloat16, int8, or a "
                              "float32 model with bfloat16 parts: \"float32 (bfloat16 attention and MLP)\"; bfloat16 "
                              "chosen by the machine probe when ranker.dtype, ranker.attention_dtype or "
                              "ranker.mlp_dtype is auto); None when a server chose it")
    candidates: list[str] = Field(default_factory=list, description="candidate ids in the order the ranker saw them")
    notices: list[str] = Field(default_factory=list)
    interpretation: RequestInterpretation | None = Field(None, description="how the query was read: the hard "
                                                         "conditions applied, anchors, avoided words, notes")
    timings: Timings = Field(default_factory=Timings)


# ---- an answer in two steps (``Recommender.rank`` then ``Recommender.justify``; ``POST /v1/recommendations/stream``)
# Each model is one line of the HTTP stream; ``event`` says which.

class RankedList(BaseModel):
    """The ranked items, before any justification: the first thing a streamed answer gives."""

    event: Literal["ranked"] = "ranked"
    request_id: str
    query: str
    user_id: str | None = None
    items: list[RankedItem]
    model: str
    adapter: str | None = None
    backend: str
    dtype: str | None = Field(None, description="dtype the ranking model ran in, as in Recommendation")
    candidates: list[str] = Field(default_factory=list, description="candidate ids in the order the ranker saw them")
    notices: list[str] = Field(default_factory=list)
    interpretation: RequestInterpretation | None = None
    timings: Timings = Field(default_factory=Timings, description="retrieval and ranking; justify_s is 0 here")


class ItemJustification(BaseModel):
    """The justification of one ranked item, as soon as it is written (in rank order)."""

    event: Literal["justification"] = "justification"
    item_id: str
    rank: int
    justification: str
    evidence: list[str] = Field(default_factory=list, description="card:<field> and history:<item id> it relies on")
    generated: bool = Field(True, description="false when the template stated the item's reasons (no LLM)")


class AnswerDone(BaseModel):
    """The end of a streamed answer: every justification is in and the audit record is stored."""

    event: Literal["done"] = "done"
    request_id: str = Field(description="GET /v1/recommendations/{request_id} reads its audit record")
    timings: Timings = Field(default_factory=Timings)
