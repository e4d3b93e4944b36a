"""Which ranking prompt works best for the base model: plain history, recency-focused or in-context (LLMRank style).

    nice -n 5 python eval/prompt_variants.py [--users 100] [--data PATH] [--seed 0] [--out eval/results]

Protocol: sampled-20 on ml-latest-small (5-core, leave-one-out with ties by file row, ``llmrec.evaluation``). Per
user, the candidates are the test target plus 19 negatives drawn (seeded) from items the user never interacted with
(``sample_candidates``), passed to the ranker in a seeded shuffled order; the ranker shuffles them again for the
prompt. The history is the training sequence plus the validation item. The packaged base model (SmolLM2-135M,
transformers backend) ranks with ``retrieval_prior = 0``, so the order is the LLM's letter log-probabilities alone;
ties count against the target. One template per variant (``RankerConfig.template``):

- ``plain``: ``ranking.j2``, the shipped prompt (history oldest first);
- ``recency``: ``ranking_recency.j2``, history newest first, told to weigh the most recent items most;
- ``icl``: ``ranking_icl.j2``, one worked example first: the history before the validation item, that item and
  ``EXAMPLE_OPTIONS - 1`` seeded distractors the user never interacted with (none of them a current candidate), with
  the letter of the validation item as the answer.

Reported per variant: NDCG@1/5/10, the rates of invalid / duplicate / already-seen items in the output, and paired
per-user NDCG@10 differences with their standard errors; next to the exact expectation for a random order.
Writes ``<out>/ml-latest-small-prompt-variants.{json,md}``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from llmrec.config import RankerConfig
from llmrec.errors import ConfigError
from llmrec.evaluation.candidates import CatalogItems
from llmrec.evaluation.metrics import (paired_difference, per_user_ndcg, random_order_ndcg, ranking_metrics,
                                      target_ranks)
from llmrec.evaluation.options import RESULTS, add_ml_small_argument, dataset_path, script_parser
from llmrec.evaluation.protocols import build_dataset, sample_candidates
from llmrec.evaluation.provenance import command_line, versions, write_report
from llmrec.ranking.ranker import EXAMPLE_OPTIONS, LLMRanker, incontext_example, request_seed

DATASET = "ml-latest-small"
VARIANTS = {"plain": "ranking.j2", "recency": "ranking_recency.j2", "icl": "ranking_icl.j2"}
KS = (1, 5, 10)
NEGATIVES = 19


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = script_parser("eval/prompt_variants.py", __doc__.split("\n\n")[0])
    add_ml_small_argument(parser)
    parser.add_argument("--users", type=int, default=100, help="evaluate the first N test users (split order)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of "
                        + ",".join(VARIANTS))
    parser.add_argument("--seed", type=int, default=0, help="seeds negatives, shuffles and ICL distractors")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def random_ndcg(k: int, n: int = 1 + NEGATIVES) -> float:
    """Exact expected NDCG@k of a random order of this protocol's 20 candidates."""
    return random_order_ndcg(k, n)


def output_problems(ranked: list[str], candidates: set[str], seen: set[str]) -> dict[str, int]:
    """Items in a ranked list that are not candidates, repeated, or already in the user's history."""
    return {"invalid": sum(i not in candidates for i in ranked), "duplicate": len(ranked) - len(set(ranked)),
            "seen": sum(i in seen for i in ranked)}


VERSIONED = ("numpy", "torch", "transformers", "jinja2")


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in VARIANTS:
            raise ConfigError(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    path = dataset_path(DATASET, args.data)
    from llmrec.catalog.movielens import read_movielens
    from llmrec.prompts import default_library
    from llmrec.ranking.backends import open_backend

    catalog, interactions = read_movielens(path)
    items = CatalogItems(catalog)
    data = build_dataset(interactions, tie_break="row")
    histories, targets = data.inputs("test")
    candidates = sample_candidates(data, "test", negatives=NEGATIVES, seed=args.seed)  # (U, 20), column 0 = target
    n_users = min(args.users, len(targets))
    print(f"{DATASET}: {data.stats['users']} users, {data.stats['items']} items after 5-core; "
          f"ranking {n_users} users × {len(variants)} variants", file=sys.stderr)

    def item(code: int):
        return items.one(data.item_ids[code])

    base = RankerConfig(model=args.model, retrieval_prior=0.0, seed=args.seed, threads=args.threads)
    backend = open_backend(base)
    rankers = {v: LLMRanker(backend, default_library(), base.model_copy(update={"template": VARIANTS[v]}))
               for v in variants}
    ranks = {v: np.zeros(n_users, dtype=np.int64) for v in variants}
    problems = {v: {"invalid": 0, "duplicate": 0, "seen": 0} for v in variants}
    seconds = {v: 0.0 for v in variants}
    examples_used = 0
    sample_prompts: dict[str, str] = {}
    t0 = time.perf_counter()
    for j in range(n_users):
        history = [item(c) for c in histories[j]]
        user_id = data.user_ids[data.eval_rows[j]]
        order = [int(c) for c in candidates[j]]
        random.Random(request_seed(args.seed, "candidates", user_id)).shuffle(order)
        cands = [item(c) for c in order]
        target_id = item(int(targets[j])).id
        # Distractors for the worked example: never interacted with (history, validation, test) and not a current
        # candidate, so the example neither hints at nor rules out any option of the real question.
        taken = set(histories[j]) | {int(data.valid[j]), int(data.test[j])} | set(order)
        pool = [c for c in range(data.n_items) if c not in taken]
        rng = random.Random(request_seed(args.seed, "distractors", user_id))
        example = incontext_example(history, [item(c) for c in rng.sample(pool, EXAMPLE_OPTIONS - 1)])
        examples_used += example is not None
        seen = {h.id for h in history}
        for v in variants:
            result = rankers[v].rank("", history, cands, example)
            seconds[v] += result.seconds
            for key, n in output_problems(result.ranked, {c.id for c in cands}, seen).items():
                problems[v][key] += n
            scores = np.array([[result.scores[c.id] for c in cands]])  # (1, 20) in input order
            ranks[v][j] = target_ranks(scores, [next(i for i, c in enumerate(cands) if c.id == target_id)])[0]
            if j == 0:
                sample_prompts[v] = result.prompt.text
        if (j + 1) % 5 == 0 or j + 1 == n_users:
            print(f"[{j + 1}/{n_users}] {time.perf_counter() - t0:.0f} s; N@10 so far " + ", ".join(
                f"{v} {ranking_metrics(ranks[v][:j + 1], (10,))['NDCG@10']:.3f}" for v in variants),
                file=sys.stderr, flush=True)

    gains = {v: per_user_ndcg(ranks[v], 10) for v in variants}
    results = {}
    for v in variants:
        m = ranking_metrics(ranks[v], KS)
        outputs = n_users * (1 + NEGATIVES)
        results[v] = {"template": VARIANTS[v], **{f"NDCG@{k}": round(m[f"NDCG@{k}"], 4) for k in KS},
                      "NDCG@10_se": round(float(gains[v].std(ddof=1) / math.sqrt(n_users)), 4) if n_users > 1 else None,
                      "vs_random_NDCG@10": paired_difference(gains[v], np.full(n_users, random_ndcg(10))),
                      **{f"{key}_rate": problems[v][key] / outputs for key in problems[v]},
                      "seconds_per_user": round(seconds[v] / n_users, 3),
                      "ranks": ranks[v].tolist()}
    pairs = {f"{a} - {b}": paired_difference(gains[a], gains[b])
             for i, a in enumerate(variants) for b in variants[i + 1:]}
    winner = max(variants, key=lambda v: results[v]["NDCG@10"])
    runner_up = [v for v in variants if v != winner]
    margins = {v: paired_difference(gains[winner], gains[v]) for v in runner_up}
    significant = all(m["z"] is not None and m["z"] >= 2 for m in margins.values()) if margins else False
    report = {
        "dataset": DATASET, "data": str(path),
        "command": command_line("python eval/prompt_variants.py", argv),
        "seed": args.seed, "users": n_users, "model": backend.model_id, "threads": args.threads,
        "versions": versions(VERSIONED), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": load_at_start,
                    "load_average_at_end": round(os.getloadavg()[0], 2)},
        "protocol": {"split": "5-core, leave-one-out, ties by file row", "candidates": f"target + {NEGATIVES} "
                     "seeded never-seen negatives, shuffled", "history": "training sequence + validation item",
                     "ranker": base.model_dump(mode="json"), "icl_example": f"history before the validation item → "
                     f"the validation item, among {EXAMPLE_OPTIONS} options ({EXAMPLE_OPTIONS - 1} seeded never-seen "
                     "non-candidate distractors)", "ties_in_score": "pessimistic", "users_with_icl_example":
                     examples_used},
        "random": {f"NDCG@{k}": round(random_ndcg(k), 4) for k in KS},
        "results": results, "paired_NDCG@10": pairs,
        "winner": {"variant": winner, "margins_NDCG@10": margins, "significant_at_2se": significant},
        "sample_prompts_user_0": sample_prompts,
    }
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args.out / f"{DATASET}-prompt-variants", report, markdown)
    return 0


def markdown(report: dict) -> str:
    r, m = report["results"], report["machine"]
    lines = [f"# Ranking prompt variants on {report['dataset']} (sampled-20, base model)", "",
             f"Command: `{report['command']}`  ",
             f"Seed {report['seed']}, first {report['users']} test users, model {report['model']}, "
             f"{report['threads']} torch thread(s) on {m['cpus']} CPUs, 1-min load average "
             f"{m['load_average_at_start']} "
             f"at start and {m['load_average_at_end']} at end, wall time {report['wall_seconds']:.0f} s, "
             f"{report['created']}  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), "",
             "Per user: the test target + 19 seeded never-seen negatives, shuffled; history = training sequence + "
             "validation item; `retrieval_prior = 0` (the LLM's letter log-probabilities alone); ties count against "
             "the target. ± is the standard error over users.", "",
             "| variant | template | N@1 | N@5 | N@10 | N@10 − random (±SE) | invalid | duplicate | already seen "
             "| s/user |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for v, x in r.items():
        d = x["vs_random_NDCG@10"]
        lines.append(f"| {v} | `{x['template']}` | {x['NDCG@1']:.4f} | {x['NDCG@5']:.4f} | {x['NDCG@10']:.4f} | "
                     f"{d['mean']:+.4f} ± {d['se']:.4f} | {x['invalid_rate']:.0%} | {x['duplicate_rate']:.0%} | "
                     f"{x['seen_rate']:.0%} | {x['seconds_per_user']:.2f} |")
    rnd = report["random"]
    lines.append(f"| random order (exact expectation) | – | {rnd['NDCG@1']:.4f} | {rnd['NDCG@5']:.4f} | "
                 f"{rnd['NDCG@10']:.4f} | 0 | – | – | – | – |")
    lines += ["", "Paired per-user NDCG@10 differences (mean ± SE, z = mean/SE):", "",
              "| pair | mean difference | SE | z |", "|---|---:|---:|---:|"]
    for pair, d in report["paired_NDCG@10"].items():
        lines.append(f"| {pair} | {d['mean']:+.4f} | {d['se']:.4f} | {d['z']} |")
    w = report["winner"]
    verdict = ("and its lead over every other variant is at least 2 standard errors" if w["significant_at_2se"] else
               "but its lead is under 2 standard errors of the paired differences over some variant, so on these "
               "users the variants are not distinguishable; more users (`--users`) would be needed")
    lines += ["", f"**Winner by NDCG@10: `{w['variant']}`**, {verdict}.", "",
              "Invalid, duplicate and already-seen outputs are 0 by construction, not by luck: the ranker reads the "
              "log-probability of each shown option's letter at one position and sorts the candidates by it, so "
              "its output is always a permutation of the candidates (nothing is parsed from generated text), and "
              "the candidates are sampled from items the user never interacted with. The counts above are "
              "checked on every output anyway.", "",
              f"In-context example: {report['protocol']['icl_example']}; {report['protocol']['users_with_icl_example']}"
              f"/{report['users']} users had one. Item cards are title, year, genres and MovieLens tags (tags are "
              "applied by all users), cut to the ranker's 100 characters.", ""]
    return "\n".join(lines)

