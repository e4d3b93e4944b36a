"""The request benchmark: do answers honour what a request states as a condition?

Each benchmark request (``data/requests-*.jsonl``, written for this project) carries what a careful reader takes as
its hard conditions, in the ``--where`` language (``genres=War``, ``year<1970``, ``director=Alfred Hitchcock``,
``like=Toy Story`` for an anchor). The checker is computed from the catalog's own metadata: an answered item
satisfies a condition when its facet values do (``Condition.test``), so nothing is judged by hand or by a model.

Reported per system (the embedding retriever alone, the rules, the rules with the LLM chooser, the served pipeline
without and with parsing): constraint precision@5 and @10 (share of returned items meeting every expected
condition, over requests that have some), the share of requests with any violation in the top 5, exclusion
violations, how often the interpretation was exactly right (overall and per condition type), and latency.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field

from llmrec.evaluation.metrics import percentile
from llmrec.evaluation.requests_report import _fmt, write_report
from llmrec.request.conditions import Condition, RequestInterpretation, parse_expression
from llmrec.request.facets import CatalogFacets

REQUEST_SETS = ("demo", "ml-100k", "ml-latest-small")


class BenchmarkRequest(BaseModel):
    id: str
    text: str
    expect: list[str] = Field(default_factory=list, description="conditions (--where syntax) and like=<title>")
    tags: list[str] = Field(default_factory=list, description="words, typo, negation, none: for the breakdown")


def load_requests(name: str) -> list[BenchmarkRequest]:
    """A request set shipped with llmrec: ``demo``, ``ml-100k`` (with details.json) or ``ml-latest-small``."""
    if name not in REQUEST_SETS:
        raise ValueError(f"unknown request set {name!r}; choose one of {', '.join(REQUEST_SETS)}")
    text = resources.files("llmrec.evaluation").joinpath(f"data/requests-{name}.jsonl").read_text(encoding="utf-8")
    return [BenchmarkRequest.model_validate_json(line) for line in text.splitlines() if line.strip()]


def expected(request: BenchmarkRequest, facets: CatalogFacets) -> tuple[list[Condition], list[str]]:
    """The request's expected conditions (parsed against this catalog's facets) and anchor titles."""
    conditions, anchors = [], []
    for e in request.expect:
        if e.startswith("like="):
            anchors.append(e[len("like="):])
        else:
            conditions.append(parse_expression(e, facets))
    return conditions, anchors


def condition_type(c: Condition, facets: CatalogFacets) -> str:
    """A condition's kind for the per-type breakdown: kind, genre, exclusion, decade, before, after, year, length,
    rating, count, person."""
    facet = facets.get(c.facet)
    if c.type == "people":
        return "person (excluded)" if c.negate else "person"
    if c.type == "categorical":
        if c.negate:
            return "exclusion"
        return "kind" if facet is not None and facet.role == "kind" else "genre/category"
    unit = facet.unit if facet else "count"
    if unit == "year":
        if c.negate:
            return "year range (excluded)"
        if c.low is not None and c.high is not None:
            return "year" if c.low == c.high else ("decade" if c.high - c.low == 9 else "year range")
        return "before" if c.high is not None else "after"
    return {"minutes": "length", "rating10": "rating"}.get(unit or "", "count")


def interpretation_matches(interpretation: RequestInterpretation | None, conditions: list[Condition],
                           anchors: list[str]) -> bool:
    """Exactly right: the same conditions (by expression) and the same anchor titles, nothing more, nothing less."""
    if interpretation is None:
        return not conditions and not anchors
    got = {c.expression for c in interpretation.conditions}
    want = {c.expression for c in conditions}
    return got == want and {a.title for a in interpretation.anchors} == set(anchors)


class RequestOutcome(BaseModel):
    id: str
    text: str
    returned: list[str]
    satisfied: list[bool] = Field(description="per returned item: meets every expected condition")
    attainable: int = Field(0, description="catalog items meeting every expected condition (excluding nothing)")
    excluded_hit: bool = Field(False, description="an item an expected exclusion rules out is in the top 5")
    exact: bool | None = None
    understood: str = ""
    seconds: float = 0.0
    parse_ms: float | None = None
    llm_conditions: list[str] = Field(default_factory=list, description="conditions the LLM chooser added")


# A system answers a request: (item ids best first, its interpretation or None, seconds)
System = Callable[[BenchmarkRequest], tuple[list[str], RequestInterpretation | None, float]]


def run_system(system: System, requests: list[BenchmarkRequest], facets: CatalogFacets,
               values: dict[str, dict], progress: Callable = lambda it, total, desc: it,
               name: str = "") -> list[RequestOutcome]:
    out = []
    for req in progress(requests, len(requests), name):
        conditions, anchors = expected(req, facets)
        ids, interpretation, seconds = system(req)
        ok = [all(c.test(values.get(i, {})) for c in conditions) for i in ids]
        attainable = sum(all(c.test(v) for c in conditions) for v in values.values()) if conditions else len(values)
        excluded = [c for c in conditions if c.negate]
        hit = any(not c.test(values.get(i, {})) for c in excluded for i in ids[:5])
        out.append(RequestOutcome(
            id=req.id, text=req.text, returned=ids, satisfied=ok, attainable=attainable, excluded_hit=hit,
            exact=None if interpretation is None else interpretation_matches(interpretation, conditions, anchors),
            understood=interpretation.summary if interpretation is not None else "", seconds=round(seconds, 4),
            parse_ms=interpretation.parse_ms if interpretation is not None and interpretation.parsed else None,
            llm_conditions=[c.expression for c in interpretation.conditions if c.source == "llm"]
            if interpretation is not None else []))
    return out


def summarise(outcomes: list[RequestOutcome], requests: list[BenchmarkRequest], facets: CatalogFacets) -> dict:
    """The report row of one system on one request set."""
    by_id = {r.id: r for r in requests}
    # Requests with conditions some catalog item meets: where fewer than n items meet them, the answer is right to
    # show those first and relaxed ones after (and says so), so precision@n is out of what the catalog can give.
    constrained = [o for o in outcomes if expected(by_id[o.id], facets)[0] and o.attainable]

    def precision(o: RequestOutcome, n: int) -> float:
        want = min(n, o.attainable)
        return sum(o.satisfied[:want]) / want

    def violated(o: RequestOutcome) -> bool:
        return not all(o.satisfied[:min(5, o.attainable)])

    types: dict[str, list[bool]] = defaultdict(list)
    tags: dict[str, list[bool]] = defaultdict(list)
    for o in outcomes:
        if o.exact is None:
            continue
        conditions, anchors = expected(by_id[o.id], facets)
        kinds = {condition_type(c, facets) for c in conditions} | ({"like"} if anchors else set())
        for kind in kinds or {"no condition"}:
            types[kind].append(o.exact)
        for tag in by_id[o.id].tags:
            tags[tag].append(o.exact)
    with_exclusion = [o for o in outcomes if any(c.negate for c in expected(by_id[o.id], facets)[0])]
    llm = [(o, c) for o in outcomes for c in o.llm_conditions]
    llm_right = sum(c in {x.expression for x in expected(by_id[o.id], facets)[0]} for o, c in llm)
    parse = [o.parse_ms for o in outcomes if o.parse_ms is not None]
    seconds = [o.seconds for o in outcomes]
    exact = [o.exact for o in outcomes if o.exact is not None]
    return {
        "requests": len(outcomes), "with_conditions": len(constrained),
        "precision@5": round(statistics.mean(precision(o, 5) for o in constrained), 4) if constrained else None,
        "precision@10": round(statistics.mean(precision(o, 10) for o in constrained), 4) if constrained else None,
        "any_violation@5": round(sum(violated(o) for o in constrained) / len(constrained), 4)
        if constrained else None,
        "fewer_than_5_attainable": sum(o.attainable < 5 for o in constrained),
        "exclusion_requests": len(with_exclusion),
        "exclusion_violations@5": sum(o.excluded_hit for o in with_exclusion),
        "exact_interpretation": round(sum(exact) / len(exact), 4) if exact else None,
        "llm_conditions": len(llm), "llm_conditions_expected": llm_right,
        "exact_by_type": {k: [round(sum(v) / len(v), 4), len(v)] for k, v in sorted(types.items())},
        "exact_by_tag": {k: [round(sum(v) / len(v), 4), len(v)] for k, v in sorted(tags.items())},
        "parse_ms_p50": percentile(parse, 0.5), "parse_ms_p95": percentile(parse, 0.95),
        "seconds_p50": percentile(seconds, 0.5), "seconds_p95": percentile(seconds, 0.95),
    }


# --- the systems -----------------------------------------------------------------------------------------------------

def systems_for(recommender, k: int = 10, served: bool = True) -> dict[str, System]:
    """The compared systems over one workspace's ``Recommender`` (justifications off: they do not change the list)."""
    from llmrec.api import AskRequest

    recommender.config.justification.enabled = False
    total = recommender.workspace.item_count()

    def retriever_alone(req: BenchmarkRequest):
        t0 = time.perf_counter()
        found = recommender.retriever.retrieve(req.text, [], set(), k)
        return [c.id for c in found], None, time.perf_counter() - t0

    def rules(chooser: bool) -> System:
        def run(req: BenchmarkRequest):
            recommender.config.request.llm_chooser = chooser
            try:
                t0 = time.perf_counter()
                found = recommender.retrieve(AskRequest(query=req.text, k=k), [], set(), total)
                ids = found.in_stage_order([c.id for c in found.candidates])[:k]
                return ids, found.interpretation, time.perf_counter() - t0
            finally:
                recommender.config.request.llm_chooser = False
        return run

    def pipeline(parse: bool) -> System:
        def run(req: BenchmarkRequest):
            t0 = time.perf_counter()
            rec = recommender.ask(req.text, k=k, parse=parse)
            return [it.item_id for it in rec.items], rec.interpretation if parse else None, \
                time.perf_counter() - t0
        return run

    systems = {"retriever alone": retriever_alone, "rules": rules(False), "rules + LLM chooser": rules(True)}
    if served:
        systems["served, no parsing (before)"] = pipeline(False)
        systems["served"] = pipeline(True)
    return systems


def spread_sample(requests: list[BenchmarkRequest], n: int | None) -> list[BenchmarkRequest]:
    """``n`` requests spread evenly over the file (which groups them by condition type), so a sample still covers
    every type; all of them when ``n`` is None or not smaller."""
    if n is None or n >= len(requests):
        return requests
    step = len(requests) / n
    return [requests[int(i * step)] for i in range(n)]


def benchmark_workspace(recommender, request_set: str, served: bool = True, only: list[str] | None = None,
                        progress: Callable = lambda it, total, desc: it, served_sample: int | None = None) -> dict:
    """Every system on one request set over one workspace: the summaries and each request's outcome. The served
    systems (an LLM ranking pass per request) run on ``served_sample`` requests spread over the set when given, and
    the rules are reported on that same sample beside them."""
    requests = load_requests(request_set)
    sample = spread_sample(requests, served_sample)
    index = recommender.facet_index()
    result = {"request_set": request_set, "workspace": str(recommender.workspace.root),
              "items": recommender.workspace.item_count(), "systems": {}, "outcomes": {}}
    systems = systems_for(recommender, served=served)
    if served and sample is not requests:
        systems = {**{k: v for k, v in systems.items() if not k.startswith("served")},
                   f"rules, on the served sample ({len(sample)})": systems["rules"],
                   **{k: v for k, v in systems.items() if k.startswith("served")}}
    for name, system in systems.items():
        if only and name not in only:
            continue
        asked = sample if name.startswith("served") or name.startswith("rules, on") else requests
        outcomes = run_system(system, asked, index.facets, index.values, progress, name)
        result["systems"][name] = summarise(outcomes, requests, index.facets)
        result["outcomes"][name] = [o.model_dump() for o in outcomes]
    return result


# --- workspaces and the whole run ------------------------------------------------------------------------------------

def prepare_workspace(request_set: str, data: Path | None, cache: Path, log: Callable[[str], None] = print,
                      progress: Callable = lambda it, total, desc: it) -> Path:
    """The workspace a request set runs on, ingested once into ``cache`` (re-ingest is incremental): the demo
    catalog, or a MovieLens folder under ``data`` (ml-100k with its details.json). No posters and no collaborative
    model: the requests are anonymous, and text alone decides what they can find."""
    from llmrec.config import LLMRecConfig
    from llmrec.errors import CatalogError
    from llmrec.ingest import ingest

    root = cache / f"{request_set}-workspace"
    config = LLMRecConfig()
    config.collaborative.fit_on_ingest = False
    if request_set == "demo":
        from llmrec.demo import write_demo_catalog

        written = write_demo_catalog(cache / "demo-catalog")
        source, interactions = written.catalog, written.interactions
    else:
        if data is None or not (data / request_set).is_dir():
            raise CatalogError(f"the {request_set} request set needs {data / request_set if data else request_set}: "
                               "pass --data with the folder holding the MovieLens releases")
        source, interactions = data / request_set, None
    log(f"ingesting {source} into {root} (once; later runs reuse it)")
    ingest(source, root, interactions=interactions, config=config, progress=progress, log=log)
    return root


def run_benchmark(sets: list[str], data: Path | None, cache: Path, out: Path | None, served: bool = True,
                  log: Callable[[str], None] = print, progress: Callable = lambda it, total, desc: it,
                  served_sample: int | None = None) -> list[dict]:
    """Every request set on its workspace; writes ``requests.{json,md}`` into ``out`` when given."""
    import warnings

    from llmrec.evaluation.provenance import versions
    from llmrec.recommender import Recommender

    results = []
    for name in sets:
        root = prepare_workspace(name, data, cache, log, progress)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recommender = Recommender(root)
            results.append(benchmark_workspace(recommender, name, served=served, progress=progress,
                                               served_sample=served_sample))
        for system, row in results[-1]["systems"].items():
            log(f"{name} · {system}: P@5 {_fmt(row['precision@5'])}, exact {_fmt(row['exact_interpretation'])}, "
                f"exclusion violations {row['exclusion_violations@5']}/{row['exclusion_requests']}")
    if out is not None:
        provenance = {"versions": versions(("torch", "transformers", "chromadb")), "sets": sets,
                      "served": served, "served_sample": served_sample,
                      "model": "as configured (default smollm2-135m)", "k": 10}
        json_path, md_path = write_report(results, out, provenance)
        log(f"wrote {json_path} and {md_path}")
    return results


def main(argv: list[str]) -> int:
    """``eval/requests_benchmark.py`` and ``llmrec eval --requests``."""
    import argparse
    import os

    from llmrec.evaluation.options import RESULTS, data_root

    ap = argparse.ArgumentParser(prog="eval/requests_benchmark.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="folder holding ml-100k/ (with details.json) and "
                    "ml-latest-small/; default $LLMREC_DATA or ../shared/data")
    ap.add_argument("--sets", default=",".join(REQUEST_SETS), help="comma-separated request sets (demo, ml-100k, "
                    "ml-latest-small); the demo set needs no data")
    ap.add_argument("--cache", type=Path, default=None, help="where the benchmark's workspaces are ingested and "
                    "reused; default <llmrec cache>/request-benchmark")
    ap.add_argument("--out", type=Path, default=RESULTS, help="report folder (requests.json, requests.md)")
    ap.add_argument("--no-served", action="store_true", help="skip the served pipeline (the LLM ranker): "
                    "retriever, rules and chooser only")
    ap.add_argument("--served-sample", type=int, default=None, metavar="N",
                    help="run the served systems (one LLM ranking pass per request) on N requests spread over each "
                    "set, with the rules beside them on the same N; default: every request")
    args = ap.parse_args(argv)
    from llmrec.llm.cache import cache_dir

    cache = args.cache or cache_dir() / "request-benchmark"
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run_benchmark(sets, args.data or data_root(), cache, args.out, served=not args.no_served, progress=_bar,
                  served_sample=args.served_sample)
    return 0


def _bar(it, total, desc):
    from tqdm import tqdm

    return tqdm(it, total=total, desc=desc, leave=False)
