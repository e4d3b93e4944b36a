"""How fast the ranking pass runs against what this machine can do, and what token budgets and dtypes cost in quality.

    nice -n 5 python eval/ranking_speed.py [--users 60] [--repeats 3] [--data PATH] [--out eval/results]

In one run, on one machine:

1. **Peak**: float32 and bfloat16 matmul GFLOP/s (1024³, best of about a second each, at start and end, the
   better kept) and the dtype probe's verdict.
2. **Sampled-20 quality** (ml-latest-small, the protocol of ``eval/prompt_variants.py``: target + 19 never-seen
   negatives, ``retrieval_prior = 0``) for each setting: no budgets (as before this change) and each
   ``option_tokens``/``history_tokens`` pair in ``--budgets``; NDCG@10 with its SE, the paired difference to no
   budgets, mean prompt tokens, and the ranking pass's time per user.
3. **dtype agreement**: on the same users' prompts, float32 against bfloat16, int8, ``bfloat16-attention`` (a
   float32 model whose attention alone runs in bfloat16, ``ranker.attention_dtype``), ``bfloat16-mlp`` (its MLP
   alone, ``ranker.mlp_dtype``: what ``auto`` picks where only the matmuls are faster in bfloat16) and
   ``bfloat16-attention-mlp`` (both): top-1 agreement, mean
   Spearman of the letter scores, sampled-20 NDCG@10 from those scores with its paired difference to float32, and
   their pass times, interleaved so load hits all alike. The float32 reference runs float32 attention and MLP.
4. **Pass speed**: the no-budget full pass ("before") against the chosen budgets with the static prefix reused
   ("after"), interleaved per user; the time ratio, and achieved GFLOP/s = 2 × non-embedding parameters × tokens run
   / seconds, against the float32 peak.

Writes ``<out>/ranking-speed.{json,md}``. Timings on a shared machine are inflated; the ratios within a run are what
to read.
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
from llmrec.evaluation.metrics import paired_difference, per_user_ndcg, ranking_metrics, target_ranks
from llmrec.evaluation.options import RESULTS, add_ml_small_argument, dataset_path, script_parser
from llmrec.evaluation.provenance import command_line, versions, write_report

DATASET = "ml-latest-small"
NEGATIVES = 19
VERSIONED = ("numpy", "torch", "transformers")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = script_parser("eval/ranking_speed.py", __doc__.split("\n\n")[0])
    add_ml_small_argument(p)
    p.add_argument("--users", type=int, default=60, help="first N test users of the sampled-20 protocol")
    p.add_argument("--budgets", default="24:80,32:120,48:160",
                   help="comma-separated option_tokens:history_tokens pairs to compare with no budgets")
    p.add_argument("--chosen", default=None, help="option_tokens:history_tokens timed as 'after' (default: the "
                   "RankerConfig defaults)")
    p.add_argument("--dtypes", default="bfloat16,int8,bfloat16-attention",
                   help="precisions compared with float32 (empty: skip)")
    p.add_argument("--tag", default="", help="report name suffix: ranking-speed-<tag>.{json,md}")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def non_embedding_params(model) -> int:
    """Weights a prompt token is multiplied through (the input embedding is a lookup; a tied head counts once)."""
    emb = model.get_input_embeddings().weight
    return sum(p.numel() for p in model.parameters() if p is not emb)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 2 else 1.0


# Precision variants ``--dtypes`` may name, as RankerConfig updates over the float32 reference.
PRECISIONS = {"bfloat16": {"dtype": "bfloat16"}, "int8": {"dtype": "int8"}, "auto": {"dtype": "auto"},
              "bfloat16-attention": {"attention_dtype": "bfloat16"},
              "bfloat16-mlp": {"mlp_dtype": "bfloat16"},
              "bfloat16-attention-mlp": {"attention_dtype": "bfloat16", "mlp_dtype": "bfloat16"}}


def _ndcg_of_scores(scores: list[list[float]], prompts, targets: list[str]) -> np.ndarray:
    """Per-user NDCG@10 of the target when the options are ordered by their letter scores."""
    ranks = []
    for row, (_, shown), target in zip(scores, prompts, targets):
        ids = [item_id for _, item_id in shown]
        ranks.append(target_ranks(np.array([row]), [ids.index(target)])[0])
    return per_user_ndcg(np.array(ranks), 10)


def _budget(text: str) -> tuple[int | None, int | None]:
    o, h = text.split(":")
    return (int(o) if o else None), (int(h) if h else None)


class Protocol:
    """The sampled-20 users: their histories and shuffled candidates as StoredItems."""

    def __init__(self, path: Path, users: int, seed: int):
        from llmrec.catalog.movielens import read_movielens
        from llmrec.evaluation.candidates import CatalogItems
        from llmrec.evaluation.protocols import build_dataset, sample_candidates
        from llmrec.ranking.ranker import request_seed

        catalog, interactions = read_movielens(path)
        items = CatalogItems(catalog)
        data = build_dataset(interactions, tie_break="row")
        histories, targets = data.inputs("test")
        candidates = sample_candidates(data, "test", negatives=NEGATIVES, seed=seed)
        self.users = []
        for j in range(min(users, len(targets))):
            user_id = data.user_ids[data.eval_rows[j]]
            order = [int(c) for c in candidates[j]]
            random.Random(request_seed(seed, "candidates", user_id)).shuffle(order)
            cands = [items.one(data.item_ids[c]) for c in order]
            target = items.one(data.item_ids[int(targets[j])]).id
            self.users.append(([items.one(data.item_ids[c]) for c in histories[j]], cands,
                               next(i for i, c in enumerate(cands) if c.id == target)))


def quality(ranker, users) -> dict:
    """Ranks of the target, prompt tokens and pass seconds of one ranker over the protocol's users."""
    ranks, tokens, seconds = [], [], []
    for j, (history, cands, target) in enumerate(users):
        if j and j % 10 == 0:
            print(f"  [{j}/{len(users)}] {sum(seconds):.0f} s", file=sys.stderr, flush=True)
        result = ranker.rank("", history, cands)
        ranks.append(target_ranks(np.array([[result.scores[c.id] for c in cands]]), [target])[0])
        tokens.append(result.tokens)
        seconds.append(result.seconds)
    return {"ranks": np.array(ranks), "tokens": tokens, "seconds": seconds}


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    path = dataset_path(DATASET, args.data)  # fail on missing data before anything is measured
    import torch

    from llmrec.prompts import default_library
    from llmrec.ranking.backends import open_backend
    from llmrec.ranking.dtype_probe import peak_gflops, probe_dtypes
    from llmrec.ranking.ranker import LLMRanker

    torch.set_num_threads(args.threads)
    peak = {d: peak_gflops(d)[0] for d in ("float32", "bfloat16")}
    probe = probe_dtypes()
    print(f"matmul peak GFLOP/s: {peak}; probe chose {probe.dtype}", file=sys.stderr)

    protocol = Protocol(path, args.users, args.seed)
    users = protocol.users
    base = RankerConfig(model=args.model, retrieval_prior=0.0, seed=args.seed, threads=args.threads,
                        dtype="float32", attention_dtype="float32", mlp_dtype="float32", normaliser_dtype="float32")
    backend = open_backend(base)
    library = default_library()

    def ranker(option_tokens, history_tokens, backend=backend) -> LLMRanker:
        config = base.model_copy(update={"option_tokens": option_tokens, "history_tokens": history_tokens})
        return LLMRanker(backend, library, config)

    # 2. quality per budget
    settings = {"none": (None, None), **{b: _budget(b) for b in args.budgets.split(",") if b}}
    runs = {}
    for name, (o, h) in settings.items():
        runs[name] = quality(ranker(o, h), users)
        print(f"budgets {name}: N@10 {ranking_metrics(runs[name]['ranks'], (10,))['NDCG@10']:.4f}, "
              f"{np.mean(runs[name]['tokens']):.0f} tokens", file=sys.stderr, flush=True)
    n = len(users)
    gains = {name: per_user_ndcg(r["ranks"], 10) for name, r in runs.items()}
    budgets = {name: {"option_tokens": settings[name][0], "history_tokens": settings[name][1],
                      "NDCG@10": round(float(gains[name].mean()), 4),
                      "NDCG@10_se": round(float(gains[name].std(ddof=1) / math.sqrt(n)), 4) if n > 1 else None,
                      "vs_none": paired_difference(gains[name], gains["none"]),
                      "mean_tokens": round(float(np.mean(r["tokens"])), 1),
                      "seconds_per_pass": round(float(np.mean(r["seconds"])), 3)}
               for name, r in runs.items()}

    # 3. dtype agreement on the chosen budgets' prompts
    chosen = _budget(args.chosen) if args.chosen else (RankerConfig().option_tokens, RankerConfig().history_tokens)
    after = ranker(*chosen)
    dtypes = {}
    others = [d for d in args.dtypes.split(",") if d]
    if others:
        backends = {d: open_backend(base.model_copy(update=PRECISIONS[d])) for d in others}
        prompts = [after.build_prompt("", h, c) for h, c, _ in users]
        targets = [cands[t].id for _, cands, t in users]
        seconds = {d: [] for d in ["float32", *others]}
        scores = {d: [] for d in ["float32", *others]}
        for prompt, shown in prompts:
            letters = [" " + letter for letter, _ in shown]
            for d, b in [("float32", backend), *backends.items()]:
                t0 = time.perf_counter()
                scores[d].append(b.option_logprobs([prompt.text], letters)[0])
                seconds[d].append(time.perf_counter() - t0)
        gains = {d: _ndcg_of_scores(scores[d], prompts, targets) for d in scores}
        for d in others:
            top1 = np.mean([int(np.argmax(a) == np.argmax(b)) for a, b in zip(scores["float32"], scores[d])])
            rho = np.mean([spearman(a, b) for a, b in zip(scores["float32"], scores[d])])
            dtypes[d] = {"top1_agreement": round(float(top1), 4), "mean_spearman": round(float(rho), 4),
                         "NDCG@10": round(float(gains[d].mean()), 4),
                         "vs_float32": paired_difference(gains[d], gains["float32"]),
                         "seconds_per_pass": round(float(np.median(seconds[d])), 3),
                         "speedup_vs_float32": round(float(np.median(seconds["float32"]) / np.median(seconds[d])),
                                                     2)}
        dtypes["float32"] = {"seconds_per_pass": round(float(np.median(seconds["float32"])), 3),
                             "NDCG@10": round(float(gains["float32"].mean()), 4),
                             "NDCG@10_se": round(float(gains["float32"].std(ddof=1) / math.sqrt(len(users))), 4)
                             if len(users) > 1 else None}

    # 4. before/after pass speed, interleaved per user
    before = ranker(None, None)
    params = non_embedding_params(backend.model)
    t_before, t_after, tok_before, tok_after, tok_run = [], [], [], [], []
    prefix_tokens = 0
    for history, cands, _ in users:
        p_before, shown = before.build_prompt("", history, cands)
        letters = [" " + letter for letter, _ in shown]
        t0 = time.perf_counter()
        backend.option_logprobs([p_before.text], letters, prefix="")  # "": a full pass, no cached prefix
        t_before.append(time.perf_counter() - t0)
        p_after, shown = after.build_prompt("", history, cands)
        letters = [" " + letter for letter, _ in shown]
        t0 = time.perf_counter()
        backend.option_logprobs([p_after.text], letters, prefix=p_after.static_prefix)
        t_after.append(time.perf_counter() - t0)
        prefix_tokens = len(backend.prefix_state(p_after.static_prefix)[0])
        tok_before.append(len(backend.tokenizer(p_before.text, add_special_tokens=False)["input_ids"]))
        tok_after.append(len(backend.tokenizer(p_after.text, add_special_tokens=False)["input_ids"]))
        tok_run.append(tok_after[-1] - prefix_tokens)
    speed = {"non_embedding_params": params, "prefix_tokens": prefix_tokens,
             "tokens_before": round(float(np.mean(tok_before)), 1), "tokens_after": round(float(np.mean(tok_after)), 1),
             "tokens_run_after": round(float(np.mean(tok_run)), 1),
             "seconds_before_median": round(float(np.median(t_before)), 3),
             "seconds_after_median": round(float(np.median(t_after)), 3),
             "time_ratio_after_over_before": round(float(np.median(np.array(t_after) / np.array(t_before))), 3),
             "gflops_before": round(2 * params * float(np.sum(tok_before)) / float(np.sum(t_before)) / 1e9, 1),
             "gflops_after": round(2 * params * float(np.sum(tok_run)) / float(np.sum(t_after)) / 1e9, 1)}
    # The peak again at the end, the better of the two kept: a neighbour's burst during one measurement would
    # otherwise make the machine look slower than it is (and the pass look faster than its peak).
    peak = {d: max(v, peak_gflops(d)[0]) for d, v in peak.items()}
    speed["share_of_float32_peak_before"] = round(speed["gflops_before"] / peak["float32"], 3)
    speed["share_of_float32_peak_after"] = round(speed["gflops_after"] / peak["float32"], 3)

    report = {"dataset": DATASET, "command": command_line("python eval/ranking_speed.py", argv),
              "users": n, "seed": args.seed, "model": backend.model_id, "threads": args.threads,
              "versions": versions(VERSIONED), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "load_average_at_start": load_at_start,
                          "load_average_at_end": round(os.getloadavg()[0], 2)},
              "peak_gflops": peak, "probe": {"dtype": probe.dtype, "float32_gflops": probe.float32_gflops,
                                             "bfloat16_gflops": probe.bfloat16_gflops},
              "budgets": budgets, "chosen": {"option_tokens": chosen[0], "history_tokens": chosen[1]},
              "dtypes": dtypes, "speed": speed}
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args.out / ("ranking-speed-" + args.tag if args.tag else "ranking-speed"), report, markdown)
    return 0


def markdown(report: dict) -> str:
    m, s, p = report["machine"], report["speed"], report["peak_gflops"]
    lines = ["# Ranking speed: dtype, token budgets, static-prefix reuse", "",
             f"Command: `{report['command']}`  ",
             f"{report['users']} sampled-20 users of {report['dataset']}, model {report['model']}, "
             f"{report['threads']} torch thread(s) on {m['cpus']} CPUs, load average {m['load_average_at_start']} "
             f"at start, {m['load_average_at_end']} at end, wall {report['wall_seconds']:.0f} s, {report['created']}  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), "",
             f"Matmul peak (best of 1024³, 2048³, 4096×1024×1024): float32 {p['float32']} GFLOP/s, "
             f"bfloat16 {p['bfloat16']} GFLOP/s; the start-up "
             f"probe chose **{report['probe']['dtype']}** ({report['probe']['float32_gflops']} vs "
             f"{report['probe']['bfloat16_gflops']} GFLOP/s).", "",
             "## Token budgets (sampled-20, float32, `retrieval_prior = 0`)", "",
             "| option_tokens | history_tokens | N@10 ± SE | vs none (paired, ± SE) | prompt tokens | s/pass |",
             "|---:|---:|---:|---:|---:|---:|"]
    for b in report["budgets"].values():
        d = b["vs_none"]
        lines.append(f"| {b['option_tokens'] or '–'} | {b['history_tokens'] or '–'} | {b['NDCG@10']:.4f} ± "
                     f"{b['NDCG@10_se']} | {d['mean']:+.4f} ± {d['se']} | {b['mean_tokens']:.0f} | "
                     f"{b['seconds_per_pass']:.2f} |")
    if report["dtypes"]:
        lines += ["", "## dtypes against float32 (same prompts, interleaved)", "",
                  "| dtype | top-1 agreement | mean Spearman | N@10 | vs float32 (paired, ± SE) | s/pass (median) "
                  "| speed-up |", "|---|---:|---:|---:|---:|---:|---:|"]
        for d, r in report["dtypes"].items():
            if d != "float32":
                diff = r.get("vs_float32")
                lines.append(f"| {d} | {r['top1_agreement']:.2%} | {r['mean_spearman']:.3f} | "
                             f"{r.get('NDCG@10', '–')} | "
                             + (f"{diff['mean']:+.4f} ± {diff['se']}" if diff else "–")
                             + f" | {r['seconds_per_pass']:.2f} | {r['speedup_vs_float32']}× |")
        f32 = report["dtypes"]["float32"]
        lines.append(f"| float32 | – | – | {f32.get('NDCG@10', '–')} ± {f32.get('NDCG@10_se', '–')} | – | "
                     f"{f32['seconds_per_pass']:.2f} | 1× |")
    c = report["chosen"]
    lines += ["", f"## Pass speed: before (no budgets, full pass) vs after (budgets {c['option_tokens']}:"
              f"{c['history_tokens']}, static prefix of {s['prefix_tokens']} tokens reused)", "",
              f"- prompt tokens: {s['tokens_before']:.0f} → {s['tokens_after']:.0f} ({s['tokens_run_after']:.0f} run "
              "per request)",
              f"- pass time, median of per-user ratios after/before: **{s['time_ratio_after_over_before']}** "
              f"({s['seconds_before_median']} s → {s['seconds_after_median']} s)",
              f"- achieved: {s['gflops_before']} → {s['gflops_after']} GFLOP/s (2 × {s['non_embedding_params']:,} "
              f"non-embedding parameters × tokens run / time) = {s['share_of_float32_peak_before']:.0%} → "
              f"{s['share_of_float32_peak_after']:.0%} of the float32 matmul peak"]
    return "\n".join(lines) + "\n"
