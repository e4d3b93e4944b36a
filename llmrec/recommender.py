"""``Recommender``: the thin facade that wires workspace, retriever, ranker and justifier and delegates to them."""

from __future__ import annotations

import time
import uuid
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from llmrec.config import LLMRecConfig
from llmrec.errors import RequestError
from llmrec.request.conditions import RequestInterpretation
from llmrec.answer import JustificationStream, RankedAnswer
from llmrec.api import MAX_K, MAX_QUERY_CHARS, AskRequest, RankedItem, RankedList, Recommendation, Timings
from llmrec.request.relax import relax, stage_of
from llmrec.workspace import Workspace


@dataclass
class Retrieved:
    """What retrieval found for a request: how it was read, the candidates, and the relaxation stages."""

    interpretation: RequestInterpretation
    candidates: list
    available: int                         # items meeting the applied conditions (or all unseen items)
    notices: list[str]
    stages: list = field(default_factory=list)   # condition sets, strictest first, when relaxed
    values: dict = field(default_factory=dict)   # item facet values, to place items by stage

    def in_stage_order(self, ranked: list[str]) -> list[str]:
        """A ranked list with the items meeting every condition first, then each relaxation step in turn."""
        if len(self.stages) < 2:
            return ranked
        return sorted(ranked, key=lambda i: stage_of(self.values.get(i, {}), self.stages))


class Recommender:
    """Ask for recommendations from one ingested workspace.

    Components load lazily (the LLM on the first ``ask``), so constructing a Recommender is cheap. ``ask`` answers
    in one go; ``rank`` then ``justify`` give the same answer in two steps, the list before its justifications.
    """

    def __init__(self, workspace: str | Path | Workspace, config: LLMRecConfig | None = None):
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
        self.config = config or self.workspace.load_config()

    # ---- components ---------------------------------------------------------------------------------------------
    @cached_property
    def store(self):
        from llmrec.retrieval.stores import open_store

        return open_store(self.config.store, self.workspace.root)

    @cached_property
    def embedder(self):
        from llmrec.retrieval.embedder import TextEmbedder

        return TextEmbedder(self.config.embedding)

    def text_collection(self):
        """The card vectors, refused when they were embedded by another model than the one queries will use."""
        from llmrec.retrieval.retriever import TEXT_COLLECTION, TEXT_SPACE_META, check_text_space, text_space

        check_text_space(self.workspace.get_meta(TEXT_SPACE_META),
                         text_space(self.embedder, self.config.store, self.workspace.root))
        return self.store.collection(TEXT_COLLECTION)

    @cached_property
    def retriever(self):
        from llmrec.retrieval.retriever import CandidateRetriever

        # Without a fitted model (or with stale vectors, which warns) retrieval uses the text signals only.
        return CandidateRetriever(self.text_collection(), self.embedder, self.config.retrieval,
                                  collab=self._open_collab())

    def _open_collab(self):
        from llmrec.retrieval.collaborative import CollaborativeIndex, model_stamp

        self._collab_stamp = model_stamp(self.workspace)
        return CollaborativeIndex.open(self.workspace, self.store, warn=lambda s: warnings.warn(s, stacklevel=4))

    def refresh_models(self) -> None:
        """Serve the model a refit (``llmrec fit`` or ``ingest``, often in another process) just swapped in.

        A stat per ask: a long-running service would otherwise keep answering from the model it started with.
        """
        from llmrec.retrieval.collaborative import model_stamp

        if "retriever" in self.__dict__ and model_stamp(self.workspace) != self._collab_stamp:
            self.retriever.collab = self._open_collab()

    @cached_property
    def backend(self):
        from llmrec.llm.adapters import resolve_adapter
        from llmrec.ranking.backends import open_backend

        backend = open_backend(self.config.ranker, resolve_adapter(self.config.ranker.adapter))
        wrap = getattr(self, "_wrap_backend", None)
        return wrap(backend) if wrap else backend

    def wrap_backend(self, wrap) -> None:
        """Route every model call through ``wrap(backend)`` (the service's batcher, ``llmrec.serving.batching``),
        now if the backend is loaded, else when it loads; the ranker and justifier built on the bare one are rebuilt."""
        self._wrap_backend = wrap
        if "backend" in self.__dict__:
            self.__dict__["backend"] = wrap(self.__dict__["backend"])
        for name in ("ranker", "justifier"):
            self.__dict__.pop(name, None)

    @cached_property
    def ranker(self):
        from llmrec.prompts import default_library
        from llmrec.ranking.ranker import LLMRanker

        return LLMRanker(self.backend, default_library(), self.config.ranker)

    def facet_index(self):
        """The catalog's facets and every item's values, reread only when the catalog changed."""
        from llmrec.request.index import FacetIndex

        version = self.workspace.catalog_version()
        if getattr(self, "_facets_version", None) != version:
            self._facets, self._facets_version = FacetIndex(self.workspace), version
        return self._facets

    def interpret(self, request: AskRequest) -> RequestInterpretation:
        """How the request's text is read (``llmrec.request``), with the person's corrections (``where``,
        ``ignore``) applied; a plain interpretation when parsing is off or the workspace has no facets yet."""
        from llmrec.request.conditions import RequestInterpretation, apply_overrides
        from llmrec.request.parser import RequestParser

        query = request.query.strip()
        index = self.facet_index()
        parse = request.parse and self.config.request.parse
        if parse and index.available and query:
            parser = getattr(index, "parser", None)
            if parser is None:
                parser = index.parser = RequestParser(index.lexicon())
            interpretation = parser.parse(query)
            if self.config.request.llm_chooser:
                interpretation = self._choose_with_llm(interpretation, index)
        else:
            interpretation = RequestInterpretation(text=query, soft_text=query, parsed=False)
            if parse and query and not index.available:
                interpretation.notes.append("this workspace has no facet index yet (ingested by an older llmrec): "
                                            "re-run `llmrec ingest` to read conditions from requests")
        if request.where or request.ignore:
            if (request.where or request.ignore) and not index.available:
                raise RequestError("this workspace has no facets to state conditions on; re-run `llmrec ingest`")
            interpretation = apply_overrides(interpretation, request.where, request.ignore, index.facets)
        return interpretation

    def _choose_with_llm(self, interpretation: RequestInterpretation, index) -> RequestInterpretation:
        """Conditions the LLM chooses among the catalog's values for words the rules left unread."""
        from llmrec.prompts import default_library
        from llmrec.request.chooser import FacetChooser

        chooser = FacetChooser(self.backend, default_library(), index.facets, self.config.request.chooser_threshold)
        added = chooser.choose(interpretation)
        if not added:
            return interpretation
        notes = [f"the model read {c.label!r} from {c.text!r}" for c in added]
        return interpretation.model_copy(update={"conditions": interpretation.conditions + added,
                                                 "notes": interpretation.notes + notes,
                                                 "soft_text": interpretation.soft_text or interpretation.text})

    @cached_property
    def audit_store(self):
        from llmrec.audit.store import AuditStore

        return AuditStore(self.workspace.root / "audit.sqlite")

    @cached_property
    def justifier(self):
        from llmrec.explain.justifier import Justifier
        from llmrec.prompts import default_library

        return Justifier(self.backend, default_library(), self.config.justification, audit=self.config.audit)

    # ---- the verb -----------------------------------------------------------------------------------------------
    def ask(self, query: str = "", user_id: str | None = None, history: list[str] | None = None, k: int = 5,
            include_seen: bool = False, where: list[str] | None = None, ignore: list[str] | None = None,
            parse: bool = True) -> Recommendation:
        """Recommend ``k`` items for a request, optionally as a known user or with an explicit history.

        Conditions in the query ("a podcast", "before 1970", "not a comedy") are read and honoured unless ``parse``
        is false; ``where`` adds conditions (``"year<1970"``), ``ignore`` drops parsed ones."""
        return self.ask_request(_request(query, user_id, history, k, include_seen, where, ignore, parse))

    def ask_request(self, request: AskRequest) -> Recommendation:
        """Rank, then write every justification (one audit record, stored before this returns)."""
        answer = self.rank_request(request)
        for _ in self.justify(answer):
            pass
        return answer.recommendation

    def rank(self, query: str = "", user_id: str | None = None, history: list[str] | None = None, k: int = 5,
             include_seen: bool = False, where: list[str] | None = None, ignore: list[str] | None = None,
             parse: bool = True) -> RankedAnswer:
        """The ranked items for a request (``ask``'s arguments), without justifications: show ``answer.ranked``
        now, then iterate ``justify(answer)`` for the justifications, which records the answer when done."""
        return self.rank_request(_request(query, user_id, history, k, include_seen, where, ignore, parse))

    def rank_request(self, request: AskRequest) -> RankedAnswer:
        """Retrieve and rank: everything of an answer but its justifications (nothing is recorded yet)."""
        t0 = time.perf_counter()
        notices: list[str] = []
        query = request.query.strip()
        if request.k < 1:
            raise RequestError(f"k must be at least 1 (got {request.k})")
        if request.k > MAX_K:
            raise RequestError(f"k must be at most {MAX_K}, the most candidates the ranker scores in one request "
                               f"(got {request.k})")
        if request.user_id is not None and request.history:
            raise RequestError("give either a user id or an explicit history, not both")
        total = self.workspace.item_count()
        if total == 0:
            raise RequestError(f"workspace {self.workspace.root} has no items; run `llmrec ingest` first")

        ratings: dict[str, float] = {}
        if request.user_id is not None:
            interactions = self.workspace.history(request.user_id)
            history_ids = [i.item_id for i in interactions]
            ratings = {i.item_id: i.rating for i in interactions if i.rating is not None}
        else:
            history_ids = list(request.history or [])
        known = self.workspace.get_items(history_ids)
        unknown = [h for h in history_ids if h not in known]
        if request.history and unknown:
            raise RequestError(f"history names item(s) not in the catalog: {', '.join(unknown[:10])}")
        history_ids = [h for h in history_ids if h in known]
        history = [known[h] for h in history_ids]
        if not query and not history:
            raise RequestError("the request is empty: type what you want, or give --user / --history")

        exclude = set() if request.include_seen else set(history_ids)
        t_retrieve = time.perf_counter()
        found = self.retrieve(request, history_ids, exclude, total)
        interpretation, candidates, available = found.interpretation, found.candidates, found.available
        notices.extend(found.notices)
        k = min(request.k, max(available, 0))
        stored = self.workspace.get_items([c.id for c in candidates])
        cand_items = [stored[c.id] for c in candidates if c.id in stored]
        t_rank = time.perf_counter()
        example = self._incontext_example(query, history, cand_items) if self.ranker.uses_example else None
        collab_rank = {c.id: c.sources["collab"] for c in candidates if "collab" in c.sources}
        result = self.ranker.rank(query, history, cand_items, example, collab_rank,
                                  conditions=[c.label for c in interpretation.effective])
        top_ids = found.in_stage_order(result.ranked)[:k]
        if request.k > available:  # says what is returned, not what should have been
            what = "meeting the conditions" if interpretation.effective else "available"
            notices.append(f"k={request.k} is more than the {available} item(s) {what}; returning {len(top_ids)}")
        t_end = time.perf_counter()
        top = [stored[i] for i in top_ids]
        ranked = RankedList(
            request_id=uuid.uuid4().hex, query=query, user_id=request.user_id,
            items=[RankedItem(item_id=it.id, title=it.title, rank=r + 1, score=round(result.scores[it.id], 4))
                   for r, it in enumerate(top)],
            model=self.backend.model_id, adapter=self.backend.adapter_id, backend=self.backend.name,
            dtype=getattr(self.backend, "dtype", None),
            candidates=[item_id for _, item_id in result.shown], notices=list(dict.fromkeys(notices)),
            interpretation=interpretation,
            timings=Timings(retrieve_s=round(t_rank - t_retrieve, 4), rank_s=round(t_end - t_rank, 4),
                            rank_pass_s=round(result.pass_seconds, 4),
                            total_s=round(t_end - t0, 4)))
        return RankedAnswer(request=request, ranked=ranked, top=top, candidates=cand_items, history=history,
                            history_ids=history_ids, result=result, retrieved=candidates, started=t0,
                            ratings=ratings)

    def justify(self, answer: RankedAnswer) -> JustificationStream:
        """The justifications of a ranked answer, in rank order, written ``justification.batch`` items per model
        call (all k in one by default); the answer's audit record is stored when the last one is written."""
        from llmrec.explain.signals import justification_signals

        signals = justification_signals(self.workspace, answer.ranked.interpretation, answer.ratings,
                                        answer.retrieved, self.facet_index())

        def write(items: list) -> list:
            return self.justifier.justify(answer.ranked.query, items, answer.candidates, answer.history,
                                          seed=self.config.ranker.seed, catalog=self._claims_catalog(), **signals)

        return JustificationStream(answer, write, self._record, batch=self.config.justification.batch)

    def retrieve(self, request: AskRequest, history_ids: list[str], exclude: set[str], total: int) -> Retrieved:
        """Read the request, relax its conditions if too few items meet them, and fetch the candidates the ranker
        will see: every one meets the conditions as applied."""
        interpretation = self.interpret(request)
        notices = list(interpretation.notes)
        stages: list = []
        allowed = None
        if interpretation.conditions:
            index = self.facet_index()
            stages = [interpretation.conditions]
            if self.config.request.relax:
                stages, relaxed = relax(interpretation, index, exclude, request.k)
                notices.extend(relaxed)
                if len(stages) > 1:
                    interpretation.applied = stages[-1]
            allowed = index.allowed(interpretation.effective, exclude)
            available = len(allowed)
        else:
            available = total - len(exclude)
        k = min(request.k, max(available, 0))
        n = min(max(self.config.retrieval.n_candidates, k), MAX_K)
        self.refresh_models()
        query = request.query.strip()
        candidates = []
        if k and (query or history_ids or interpretation.anchors):
            if len(stages) > 1:
                candidates = self._retrieve_by_stage(query, history_ids, exclude, n, interpretation, stages)
            else:
                candidates = self.retriever.retrieve(query, history_ids, exclude, n, interpretation, allowed)
        values = self.facet_index().values if len(stages) > 1 else {}
        return Retrieved(interpretation, candidates, available, notices, stages, values)

    def _retrieve_by_stage(self, query: str, history_ids: list[str], exclude: set[str], n: int,
                           interpretation: RequestInterpretation, stages: list) -> list:
        """Candidates for a relaxed request: every item meeting the strictest conditions first, then each looser
        set fills what is left, so an item that meets everything is never crowded out by merely similar ones."""
        index = self.facet_index()
        found: list = []
        taken = set(exclude)
        for conditions in stages:
            if len(found) >= n:
                break
            step = interpretation.model_copy(update={"applied": conditions})
            allowed = index.allowed(conditions, taken)
            if not allowed:
                continue
            more = self.retriever.retrieve(query, history_ids, taken, n - len(found), step, allowed)
            found += more
            taken |= {c.id for c in more}
        return found

    def _claims_catalog(self):
        """The claim engine's view of the catalog (every title, its genre words), as the audit builds it, so a
        justification is shown only when the audit would pass it; rebuilt only when the catalog changed."""
        from llmrec.audit.report import catalog_checker

        return catalog_checker(self.workspace, self.config.audit)[1].catalog

    def _incontext_example(self, query: str, history: list, candidates: list):
        """For ``ranking_icl.j2``: the user's newest history item before any current candidate as the answer to the
        history before it, against seeded distractors the user never saw that are not candidates now (so the example
        cannot hint at one); None when too little history precedes the first candidate (``include_seen``)."""
        import random

        from llmrec.ranking.ranker import EXAMPLE_OPTIONS, history_before, incontext_example, request_seed

        past = history_before(history, candidates)
        if len(past) < 2:
            return None
        taken = {h.id for h in history} | {c.id for c in candidates}
        pool = [i for i in self.workspace.all_item_ids() if i not in taken]
        rng = random.Random(request_seed(self.config.ranker.seed, "distractors", query, *[h.id for h in history]))
        picked = rng.sample(pool, min(EXAMPLE_OPTIONS - 1, len(pool)))
        found = self.workspace.get_items(picked)
        return incontext_example(past, [found[i] for i in picked if i in found])

    def _record(self, answer: RankedAnswer) -> None:
        """Append the audit record of a served answer (durable before the last justification is handed out)."""
        from llmrec.audit.record import AuditRecord, CandidateScore, PromptRef
        from llmrec.explain.justifier import JUSTIFICATION_TEMPLATE
        from llmrec.explain.realise import REASONS_TEMPLATE

        rec, result, request = answer.recommendation, answer.result, answer.request
        retrieval_rank = {c.id: i for i, c in enumerate(answer.retrieved)}
        collab_rank = {c.id: c.sources["collab"] for c in answer.retrieved if "collab" in c.sources}
        prompts = [PromptRef(template=result.prompt.template, sha256=result.prompt.template_sha256)]
        if self.config.justification.enabled:
            prompts.append(PromptRef(template=JUSTIFICATION_TEMPLATE,
                                     sha256=self.justifier.library.sha256(JUSTIFICATION_TEMPLATE)))
        prompts.append(PromptRef(template=REASONS_TEMPLATE, sha256=self.justifier.library.sha256(REASONS_TEMPLATE)))
        record = AuditRecord(
            request_id=rec.request_id, created_at=time.time(), request=request,
            config_hash=self.config.fingerprint(), config=self.config.model_dump(mode="json"), model=rec.model,
            adapter=rec.adapter, backend=rec.backend, prompts=prompts, ranking_prompt=result.prompt.text,
            dtype=rec.dtype, history=answer.history_ids,
            candidates=[CandidateScore(item_id=item_id, letter=letter, shown_position=pos,
                                       retrieval_rank=retrieval_rank.get(item_id, -1),
                                       logprob=result.logprobs[item_id], score=result.scores[item_id],
                                       collab_rank=collab_rank.get(item_id))
                        for pos, (letter, item_id) in enumerate(result.shown)],
            items=rec.items, notices=rec.notices, interpretation=rec.interpretation, timings=rec.timings)
        self.audit_store.append(record)


def _request(query: str, user_id: str | None, history: list[str] | None, k: int, include_seen: bool,
             where: list[str] | None, ignore: list[str] | None, parse: bool) -> AskRequest:
    """The ``AskRequest`` that ``ask`` and ``rank`` take apart as keyword arguments; over-long text refused first."""
    if len(query or "") > MAX_QUERY_CHARS:
        raise RequestError(f"the request text is {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}")
    return AskRequest(query=query or "", user_id=user_id, history=history, k=k, include_seen=include_seen,
                      where=list(where or []), ignore=list(ignore or []), parse=parse)
