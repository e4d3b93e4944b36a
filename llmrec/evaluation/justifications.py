"""The justification benchmark: are the sentences llmrec shows true, personal, specific, readable and fast?

For every request (the demo's own, the demo request benchmark ``requests-demo.jsonl``, the demo's known users, and
ml-latest-small known users when that data is there) the served pipeline retrieves and ranks as ``ask`` does, then
each mode justifies the same top k: ``generated`` (the LLM writes from the reasons, the template when it fails the
checks) and ``template`` (the template alone, no LLM). Each sentence is checked by the audit's claim engine (no
judge) and measured (``llmrec.explain.usefulness``): grounded-claim rate, personal rate (requests with text or a known
user), specific rate, media rate (items whose request words are only in their audio or image text), field-dump rate,
average length in words, and the time to justify the k items, p50 and p95.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from llmrec.evaluation.metrics import percentile

MODES = ("generated", "template")
TARGETS = {"field_dump_rate": ("<=", 0.0), "grounded_claim_rate": (">=", 0.98), "personal_rate": (">=", 0.9),
           "specific_rate": (">=", 0.7), "justify_p50_s": ("<=", 1.0)}


class Case(BaseModel):
    source: str
    query: str = ""
    user_id: str | None = None


class ItemOutcome(BaseModel):
    """One justification and what it measured."""

    source: str
    mode: str
    query: str
    user_id: str | None
    item_id: str
    title: str
    text: str
    evidence: list[str]
    generated: bool
    claims: int
    supported: int
    field_dump: bool
    personal: bool | None = Field(None, description="None: neither request text nor history to speak to")
    specific: bool
    media: bool | None = Field(None, description="None: no request word only in this item's media")
    words: int
    reasons: list[str] = Field(default_factory=list, description="kinds of the reasons it states")
    kind_only: bool = Field(False, description="its only tie to the history is the kind (\"an album, like ...\")")


class ModeSummary(BaseModel):
    justifications: int = 0
    requests: int = 0
    grounded_claim_rate: float | None = None
    personal_rate: float | None = None
    personal_eligible: int = 0
    specific_rate: float | None = None
    media_rate: float | None = None
    media_items: int = 0
    field_dump_rate: float | None = None
    generated_share: float | None = Field(None, description="sentences the LLM wrote that passed (the rest: template)")
    kind_only_share: float | None = Field(None, description="personal only through a history item of the same kind")
    average_words: float | None = None
    justify_p50_s: float | None = None
    justify_p95_s: float | None = None


def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def summarise(outcomes: list[ItemOutcome], seconds: list[float]) -> ModeSummary:
    claims = sum(o.claims for o in outcomes)
    personal = [o.personal for o in outcomes if o.personal is not None]
    media = [o.media for o in outcomes if o.media is not None]
    return ModeSummary(
        justifications=len(outcomes), requests=len(seconds),
        grounded_claim_rate=round(sum(o.supported for o in outcomes) / claims, 4) if claims else None,
        personal_rate=_rate(personal), personal_eligible=len(personal),
        specific_rate=_rate([o.specific for o in outcomes]), media_rate=_rate(media), media_items=len(media),
        field_dump_rate=_rate([o.field_dump for o in outcomes]), generated_share=_rate([o.generated for o in outcomes]),
        kind_only_share=_rate([o.kind_only for o in outcomes]),
        average_words=round(sum(o.words for o in outcomes) / len(outcomes), 2) if outcomes else None,
        justify_p50_s=round(percentile(seconds, 0.5), 4) if seconds else None,
        justify_p95_s=round(percentile(seconds, 0.95), 4) if seconds else None)


# ---- running one request ------------------------------------------------------------------------------------------

class Bench:
    """One workspace's recommender, its justifiers per mode and the audit's judge-free checker."""

    def __init__(self, recommender, modes: tuple[str, ...] = MODES, rank: bool = True):
        from llmrec.audit.report import catalog_checker
        from llmrec.config import AuditConfig
        from llmrec.explain.justifier import Justifier
        from llmrec.prompts import default_library

        self.rec = recommender
        self.rank = rank
        self.checker = catalog_checker(recommender.workspace, AuditConfig(judge=False))[1]
        config = recommender.config.justification
        self.justifiers = {m: Justifier(recommender.backend if m == "generated" else None, default_library(),
                                        config.model_copy(update={"enabled": m == "generated"}),
                                        recommender.config.audit) for m in modes}

    def run(self, case: Case, k: int) -> dict[str, tuple[list[ItemOutcome], float]]:
        from llmrec.api import AskRequest
        from llmrec.claims import Grounds
        from llmrec.explain.signals import justification_signals

        rec, ws = self.rec, self.rec.workspace
        interactions = ws.history(case.user_id) if case.user_id else []
        history_ids = [i.item_id for i in interactions]
        ratings = {i.item_id: i.rating for i in interactions if i.rating is not None}
        known = ws.get_items(history_ids)
        history = [known[h] for h in history_ids if h in known]
        request = AskRequest(query=case.query, user_id=case.user_id, k=k)
        found = rec.retrieve(request, history_ids, set(history_ids), ws.item_count())
        stored = ws.get_items([c.id for c in found.candidates])
        candidates = [stored[c.id] for c in found.candidates if c.id in stored]
        if not candidates:
            return {}
        ranked = [c.id for c in candidates]
        if self.rank:
            collab = {c.id: c.sources["collab"] for c in found.candidates if "collab" in c.sources}
            ranked = rec.ranker.rank(case.query, history, candidates, None, collab,
                                     conditions=[c.label for c in found.interpretation.effective]).ranked
        top = [stored[i] for i in found.in_stage_order(ranked)[:k]]
        signals = justification_signals(ws, found.interpretation, ratings, found.candidates, rec.facet_index())
        out = {}
        for mode, justifier in self.justifiers.items():
            t0 = time.perf_counter()
            js = justifier.justify(case.query, top, candidates, history, seed=rec.config.ranker.seed,
                                   catalog=self.checker.catalog, **signals)
            seconds = time.perf_counter() - t0
            outcomes = []
            for item, j in zip(top, js):
                grounds = Grounds.from_items(item, history, candidates, case.query)
                others = [grounds.for_item(c.id, c.title, c.card) for c in candidates if c.id != item.id]
                outcomes.append(measure(case, mode, item, j, grounds, others, self.checker.claims,
                                        found.interpretation, personal=bool(case.query.strip() or history)))
            out[mode] = (outcomes, seconds)
        return out


def measure(case: Case, mode: str, item, justification, grounds, others, claims, interpretation,
            personal: bool) -> ItemOutcome:
    from llmrec.claims.text import word_count
    from llmrec.explain.usefulness import is_field_dump, is_personal, is_specific, media_words, says_media

    text = justification.justification
    verdict = claims.check(grounds, text)
    hidden = media_words(grounds)
    return ItemOutcome(
        source=case.source, mode=mode, query=case.query, user_id=case.user_id, item_id=item.id, title=item.title,
        text=text, evidence=justification.evidence, generated=justification.generated, claims=len(verdict.claims),
        supported=sum(c.label == "supported" for c in verdict.claims), field_dump=is_field_dump(text, item.card),
        personal=is_personal(verdict, grounds, interpretation) if personal else None,
        specific=is_specific(verdict, grounds, others, claims), media=says_media(text, hidden) if hidden else None,
        words=word_count(text), reasons=[r.kind for r in justification.reasons],
        kind_only=bool(justification.reasons) and all(
            r.kind in ("history",) and all(f.role == "kind" for f in r.facts) or r.kind in ("distinct", "item", "rating")
            for r in justification.reasons) and any(r.kind == "history" for r in justification.reasons))


# ---- the cases --------------------------------------------------------------------------------------------------

def demo_cases(users: int, requests: int | None) -> list[Case]:
    from llmrec.demo.catalog import HISTORIES, REQUESTS
    from llmrec.evaluation.requests import load_requests

    cases = [Case(source="demo", query=r.query, user_id=r.user_id) for r in REQUESTS]
    cases += [Case(source="requests-demo", query=r.text) for r in load_requests("demo")[:requests]]
    cases += [Case(source="demo-users", user_id=u) for u in sorted(HISTORIES)[:users]]
    return cases


def movielens_cases(workspace, users: int, seed: int = 0) -> list[Case]:
    """Known users of an ingested ml-latest-small, sampled with a seed, asking with no text (history alone)."""
    ids = sorted({u for (u,) in workspace.connect().db.execute("SELECT DISTINCT user_id FROM interactions")})
    picked = random.Random(seed).sample(ids, min(users, len(ids)))
    return [Case(source="ml-latest-small-users", user_id=u) for u in picked]


def prepare_movielens(data: Path, cache: Path, log: Callable[[str], None], config=None) -> Path:
    """ml-latest-small ingested once into ``cache`` with its ratings (known users need them) and, unless ``config``
    says otherwise, its collaborative model (who-else-enjoyed-it reasons need it)."""
    from llmrec.ingest import ingest

    root = cache / "ml-latest-small-workspace"
    log(f"ingesting {data} into {root} (once; later runs reuse it)")
    ingest(data, root, log=log, config=config)
    return root


# ---- the run and its report -------------------------------------------------------------------------------------

def run(workspaces: list[tuple[Path, list[Case]]], k: int, modes: tuple[str, ...], rank: bool,
        log: Callable[[str], None] = print, config=None) -> dict:
    """``config``: the ``LLMRecConfig`` every workspace is opened with (the model table names its model there);
    None: each workspace's own."""
    import warnings

    from llmrec.recommender import Recommender

    outcomes: dict[str, list[ItemOutcome]] = {m: [] for m in modes}
    seconds: dict[tuple[str, str], list[float]] = {}
    model = None
    for root, cases in workspaces:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bench = Bench(Recommender(root, config.model_copy(deep=True) if config else None), modes, rank)
            ranker = bench.rec.config.ranker
            model = {"model": ranker.model, "adapter": ranker.adapter, "backend": ranker.backend}
            for n, case in enumerate(cases):
                for mode, (found, s) in bench.run(case, k).items():
                    outcomes[mode] += found
                    seconds.setdefault((case.source, mode), []).append(s)
                    seconds.setdefault(("overall", mode), []).append(s)
                log(f"{root.name}: {n + 1}/{len(cases)} {case.source} {case.query or case.user_id!r}")
    sources = sorted({o.source for os_ in outcomes.values() for o in os_})
    report = {"created_at": time.time(), "k": k, "ranked": rank, **(model or {}), "modes": list(modes),
              "overall": {m: summarise(outcomes[m], seconds.get(("overall", m), [])).model_dump() for m in modes},
              "sources": {s: {m: summarise([o for o in outcomes[m] if o.source == s],
                                           seconds.get((s, m), [])).model_dump() for m in modes} for s in sources},
              "volcano": {m: volcano_check(outcomes[m]) for m in modes},
              "examples": {m: [o.model_dump() for o in _examples(outcomes[m])] for m in modes},
              "outcomes": {m: [o.model_dump() for o in outcomes[m]] for m in modes}}
    report["targets"] = {m: targets_met(report["overall"][m], report["volcano"][m]) for m in modes}
    return report


def volcano_check(outcomes: list[ItemOutcome]) -> dict:
    """The demo's volcano episode, found only through its audio: does its justification say volcanoes?"""
    texts = [o.text for o in outcomes if o.item_id == "pod-field-notes-12" and "volcano" in o.query.lower()]
    return {"justifications": len(texts), "mention_volcanoes": all("volcano" in t.lower() for t in texts)
            if texts else None, "texts": texts[:3]}


def targets_met(summary: dict, volcano: dict) -> dict:
    out = {}
    for name, (op, bound) in TARGETS.items():
        value = summary.get(name)
        out[name] = None if value is None else (value <= bound if op == "<=" else value >= bound)
    out["volcano_mentions_volcanoes"] = volcano.get("mention_volcanoes")
    return out


def _examples(outcomes: list[ItemOutcome], per_source: int = 4) -> list[ItemOutcome]:
    seen: dict[str, int] = {}
    out = []
    for o in outcomes:
        if seen.get(o.source, 0) < per_source:
            seen[o.source] = seen.get(o.source, 0) + 1
            out.append(o)
    return out


def render_markdown(report: dict) -> str:
    from llmrec.evaluation.justifications_report import markdown

    return markdown(report)


def write_report(report: dict, out: Path, name: str = "justifications") -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path
