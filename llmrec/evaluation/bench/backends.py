"""transformers vs vLLM on the same ranking requests and justification prompts: throughput, latency, agreement.

    nice -n 10 python eval/bench_backends.py [--n 200] [--clients 8] [--justify 16] [--tag NAME]
        [--vllm-url URL]      # use a running server (llmrec llm serve); default: start one for the run
        [--data PATH]         # ml-latest-small folder; default ../shared/data/ml-latest-small, else the demo workspace

Requests. With ml-latest-small present: one request per user (the first ``--n`` users by id), history = the user's
10 ratings before the last, candidates = the last-rated movie plus 19 movies the user never rated, sampled with a
fixed seed (the sampled-20 setup of DESIGN.md), no query text. Without it: the demo workspace (built when missing),
request i = one of ten queries, every other request as a known user with their history, 20 candidates sampled with a
fixed seed from the catalogue. Candidates are given, not retrieved, so only the ranking backend is timed.

Measured, per backend: ``LLMRanker.rank`` sequentially and from ``--clients`` concurrent threads (requests/s, p50/p95
latency), and ``complete`` on ``--justify`` justification prompts as one batch (justifications/s, generated tokens/s).
Also the agreement of the two backends on every request (top-1 letter identical, Spearman of letter logprobs).
Writes ``backends.json`` and ``backends.md`` (``backends-<tag>.*`` with ``--tag``) under ``--out``. The machine is
shared: the load average before and after each phase is recorded with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from llmrec.evaluation.bench import QUERIES
from llmrec.evaluation.metrics import percentile
from llmrec.evaluation.options import RESULTS, add_workspace_argument, data_root
from llmrec.evaluation.provenance import command_line, versions

def load() -> float:
    return round(os.getloadavg()[0], 2)


# -- requests ----------------------------------------------------------------------------------------------------

def _stored(item_id: str, title: str, fields: dict):
    from llmrec.catalog.cards import render_card
    from llmrec.catalog.schema import CatalogItem
    from llmrec.workspace import StoredItem

    item = CatalogItem(id=item_id, title=title, fields=fields)
    return StoredItem(id=item_id, title=title, item=item, card=render_card(item, [], []), card_hash="",
                      embedded_hash=None, media=[])


def movielens_requests(folder: Path, n: int, seed: int = 0) -> list[tuple]:
    movies = {}
    with open(folder / "movies.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            movies[row["movieId"]] = _stored(row["movieId"], row["title"],
                                             {"genres": row["genres"].replace("|", ", ")})
    by_user: dict[str, list[tuple[float, int, str]]] = {}
    with open(folder / "ratings.csv", newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            by_user.setdefault(row["userId"], []).append((float(row["timestamp"]), i, row["movieId"]))
    rng = random.Random(seed)
    ids = sorted(movies)
    requests = []
    for user in sorted(by_user, key=int)[:n]:
        seq = [m for _, _, m in sorted(by_user[user])]
        seen = set(seq)
        negatives = []
        while len(negatives) < 19:
            m = rng.choice(ids)
            if m not in seen and m not in negatives:
                negatives.append(m)
        candidates = [movies[m] for m in [seq[-1], *negatives]]
        rng.shuffle(candidates)
        requests.append((None, [movies[m] for m in seq[-11:-1] if m in movies], candidates))
    return requests


def demo_requests(workspace: Path, n: int, seed: int = 0) -> list[tuple]:
    from llmrec.workspace import Workspace

    if not (workspace / "state.sqlite").exists():
        from llmrec.demo import run_demo

        print(f"building the demo workspace {workspace} …", file=sys.stderr)
        run_demo(workspace)
    ws = Workspace(workspace, create=False)
    items = ws.get_items(ws.all_item_ids())
    ids = sorted(items)
    users = sorted(ws.interaction_log().present_users())
    rng = random.Random(seed)
    requests = []
    for i in range(n):
        history = []
        if i % 2 and users:
            history = [items[x.item_id] for x in ws.history(users[i % len(users)])[-10:] if x.item_id in items]
        pool = [x for x in ids if x not in {h.id for h in history}]
        candidates = [items[x] for x in rng.sample(pool, min(20, len(pool)))]
        requests.append((QUERIES[i % len(QUERIES)], history, candidates))
    return requests


# -- measurements ------------------------------------------------------------------------------------------------

def time_ranking(ranker, requests, clients: int) -> tuple[dict, list]:
    def one(req):
        t0 = time.perf_counter()
        result = ranker.rank(*req)
        return time.perf_counter() - t0, result

    before = load()
    t0 = time.perf_counter()
    if clients == 1:
        out = [one(r) for r in requests]
    else:
        with ThreadPoolExecutor(clients) as pool:
            out = list(pool.map(one, requests))
    wall = time.perf_counter() - t0
    lat = [s for s, _ in out]
    return ({"requests": len(requests), "clients": clients, "wall_s": round(wall, 2),
             "requests_per_s": round(len(requests) / wall, 3), "p50_s": round(statistics.median(lat), 3),
             "p95_s": round(percentile(lat, 0.95), 3), "load_before": before, "load_after": load()},
            [r for _, r in out])


def time_justifications(backend, prompts: list[str], max_new_tokens: int) -> dict:
    before = load()
    t0 = time.perf_counter()
    texts = backend.complete(prompts, max_new_tokens, stop='"')
    wall = time.perf_counter() - t0
    tokens = sum(len(backend.tokenizer.encode(t.rstrip("\u2026"), add_special_tokens=False)) for t in texts)
    return {"prompts": len(prompts), "max_new_tokens": max_new_tokens, "wall_s": round(wall, 2),
            "justifications_per_s": round(len(prompts) / wall, 3), "generated_tokens": tokens,
            "tokens_per_s": round(tokens / wall, 2), "load_before": before, "load_after": load(),
            "sample": texts[:3]}


def agreement(results_a, results_b) -> dict:
    from scipy.stats import spearmanr

    same, rhos = 0, []
    for a, b in zip(results_a, results_b):
        ids = [i for _, i in a.shown]
        la, lb = [a.logprobs[i] for i in ids], [b.logprobs[i] for i in ids]
        same += max(ids, key=a.logprobs.get) == max(ids, key=b.logprobs.get)
        if len(ids) > 1:
            rhos.append(float(spearmanr(la, lb).statistic))
    return {"requests": len(results_a), "top1_identical": round(same / len(results_a), 4),
            "spearman_median": round(statistics.median(rhos), 4), "spearman_min": round(min(rhos), 4)}


def run_backend(backend, requests, clients: int, justify_prompts: list[str], max_new_tokens: int) -> dict:
    from llmrec.config import RankerConfig
    from llmrec.prompts import default_library
    from llmrec.ranking.ranker import LLMRanker

    ranker = LLMRanker(backend, default_library(), RankerConfig(seed=0))
    for req in requests[:2]:  # warm-up: first-request costs are not throughput
        ranker.rank(*req)
    print(f"[{backend.name}] sequential …", file=sys.stderr)
    seq, results = time_ranking(ranker, requests, 1)
    print(f"[{backend.name}] {seq}\n[{backend.name}] {clients} clients …", file=sys.stderr)
    conc, _ = time_ranking(ranker, requests, clients)
    print(f"[{backend.name}] {conc}\n[{backend.name}] justifications …", file=sys.stderr)
    backend.complete(justify_prompts[:1], 4, stop='"')  # warm-up
    just = time_justifications(backend, justify_prompts, max_new_tokens)
    print(f"[{backend.name}] {just}", file=sys.stderr)
    return {"sequential": seq, "concurrent": conc, "justification": just, "_results": results}


def markdown(report: dict) -> str:
    t, v = report["transformers"], report["vllm"]
    lines = ["# Ranking backends: transformers vs vLLM" + (f" ({report['tag']})" if report["tag"] else ""), "",
             f"{report['requests']['count']} ranking requests from {report['requests']['source']} "
             f"({report['requests']['candidates']} candidates each), model {report['model']} ({report['dtype']}); "
             f"{report['machine']}. Load average is the 1-minute figure of a shared machine.", "",
             "| backend | mode | requests/s | p50 (s) | p95 (s) | load before→after |", "|---|---|---|---|---|---|"]
    for name, r in (("transformers", t), ("vllm", v)):
        for mode in ("sequential", "concurrent"):
            m = r[mode]
            label = "sequential" if mode == "sequential" else f"{m['clients']} clients"
            lines.append(f"| {name} | {label} | {m['requests_per_s']} | {m['p50_s']} | {m['p95_s']} | "
                         f"{m['load_before']}→{m['load_after']} |")
    ratios = report["ratios"]
    lines += ["", f"vLLM / transformers throughput: sequential **{ratios['ranking_sequential']}×**, "
                  f"{t['concurrent']['clients']} clients **{ratios['ranking_concurrent']}×**.", "",
              "| backend | justifications in one batch | wall (s) | justifications/s | generated tokens/s |",
              "|---|---|---|---|---|"]
    for name, r in (("transformers", t), ("vllm", v)):
        j = r["justification"]
        lines.append(f"| {name} | {j['prompts']} × ≤{j['max_new_tokens']} tokens | {j['wall_s']} | "
                     f"{j['justifications_per_s']} | {j['tokens_per_s']} |")
    a = report["agreement"]
    lines += ["", f"Batched justification throughput, vLLM / transformers: **{ratios['justification']}×** "
                  f"(tokens/s: {ratios['justification_tokens']}×).", "",
              f"Agreement on the {a['requests']} requests: top-1 letter identical {a['top1_identical']:.0%}, "
              f"Spearman of letter logprobs median {a['spearman_median']}, min {a['spearman_min']}.", "",
              "Reproduce: `" + report["command"] + "`", ""]
    if report.get("notes"):
        lines += ["Notes:", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="eval/bench_backends.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--justify", type=int, default=16, help="justification prompts generated as one batch")
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--data", type=Path, default=data_root() / "ml-latest-small")
    add_workspace_argument(ap, default=Path("demo-workspace"))
    ap.add_argument("--vllm-url", default=None)
    ap.add_argument("--tag", default="", help="report name suffix: backends-<tag>.json (default backends.json)")
    ap.add_argument("--note", action="append", default=[], help="free-text note recorded in the report")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from llmrec.config import JustificationConfig, RankerConfig
    from llmrec.explain.justifier import Justifier
    from llmrec.prompts import default_library
    from llmrec.ranking.backends import vllm_backend  # noqa: F401  (registers "vllm")
    from llmrec.ranking.backends.base import open_backend
    from llmrec.serving.vllm_server import VLLMServer, free_port

    if (args.data / "ratings.csv").is_file():
        source, requests = f"ml-latest-small ({args.data})", movielens_requests(args.data, args.n)
    else:
        print(f"no ml-latest-small at {args.data}: using the demo workspace {args.workspace}", file=sys.stderr)
        source, requests = f"the demo workspace ({args.workspace.name})", demo_requests(args.workspace, args.n)

    config = RankerConfig(model=args.model, dtype=args.dtype)
    transformers = open_backend(config)
    justifier = Justifier(transformers, default_library(), JustificationConfig())
    justify_prompts = [justifier.prompt(q, c[0], h) for q, h, c in (requests * 2)[:args.justify]]

    report = {"tag": args.tag, "model": args.model, "dtype": args.dtype,
              "requests": {"count": len(requests), "source": source, "candidates": len(requests[0][2])},
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "time": time.strftime("%Y-%m-%d %H:%M"),
              "command": command_line("nice -n 10 python eval/bench_backends.py", argv), "notes": args.note,
              "versions": versions(("torch", "transformers"))}
    report["transformers"] = run_backend(transformers, requests, args.clients, justify_prompts, args.max_new_tokens)

    server = None
    url = args.vllm_url
    if url is None:
        server = VLLMServer(args.model, port=free_port(), dtype=args.dtype).start()
        url = server.url
    try:
        vllm = open_backend(RankerConfig(backend="vllm", model=args.model, dtype=args.dtype, vllm_url=url,
                                         vllm_timeout_s=900))
        report["vllm"] = run_backend(vllm, requests, args.clients, justify_prompts, args.max_new_tokens)
        report["vllm_server"] = {"url": url, "started_by_benchmark": server is not None}
    finally:
        if server is not None:
            server.stop()

    t, v = report["transformers"], report["vllm"]
    report["agreement"] = agreement(t.pop("_results"), v.pop("_results"))
    report["ratios"] = {
        "ranking_sequential": round(v["sequential"]["requests_per_s"] / t["sequential"]["requests_per_s"], 2),
        "ranking_concurrent": round(v["concurrent"]["requests_per_s"] / t["concurrent"]["requests_per_s"], 2),
        "justification": round(v["justification"]["justifications_per_s"]
                               / t["justification"]["justifications_per_s"], 2),
        "justification_tokens": round(v["justification"]["tokens_per_s"] / t["justification"]["tokens_per_s"], 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"backends-{args.tag}" if args.tag else "backends"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    (args.out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    return 0

