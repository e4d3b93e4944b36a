"""The model table: each named LLM measured the same way, so the hardware profiles can be chosen by the numbers.

Per model (``--models``), base and, with ``--train``, LoRA-trained on ml-latest-small with the same budget of
examples (``--max-train-examples``):

- the ranker protocol (``llmrec.evaluation.ranker``): sampled-20 NDCG@10 (LLM alone), and the re-rank of the
  retriever's top-20 on the LlamaRec split: full NDCG@10 at the validated retrieval-prior weight, NDCG@10 inside the
  top-20 against the collaborative evidence's own order (EASE), and the adapter's paired difference from it (z);
- the latency of one ranking pass (20 candidates, one forward pass) in each ``--dtypes`` on this machine, median of
  ``--latency-lists`` lists after one warm-up; the faster dtype is the one the table and the profiles use;
- the request benchmark's served pipeline (``llmrec.evaluation.requests``) on ``--requests`` sets with this model:
  constraint precision@5 and seconds per request.

- justifications written by the model (``[justification] enabled = true``, the justification benchmark's checks)
  for the first ``--justification-cases`` demo requests, k = 3: the share of sentences the model wrote that passed
  (the rest fall back to the template), grounded claims, personal, specific, and seconds per request.

Writes ``<out>/model-table.{json,md}``; each model's full ranker report
lands in ``<work>/<model>/``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

DATASET = "ml-latest-small"


def ranker_report(model: str, args, work: Path, dtype: str = "float32") -> dict:
    """Run the ranker protocol for one model (training its adapter first with ``--train``) and read its report."""
    from llmrec.evaluation.ranker.run import main as ranker_main

    out = work / model.replace("/", "_")
    argv = ["--model", model, "--valid-users", str(args.valid_users), "--sampled-users", str(args.sampled_users),
            "--seed", str(args.seed), "--threads", str(args.threads), "--out", str(out), "--retriever", args.retriever,
            "--dtype", dtype]
    if args.test_users:
        argv += ["--test-users", str(args.test_users)]
    if args.data:
        argv += ["--data", str(args.data)]
    if args.train and (args.train == "all" or model in args.train.split(",")):
        adapter = Path(args.adapters) / f"table-{model.replace('/', '_')}"
        if (adapter / "manifest.json").is_file():
            argv += ["--adapter", str(adapter)]  # trained by an earlier run of the table: evaluated, not retrained
        else:
            argv += ["--train", str(adapter), "--max-train-examples", str(args.max_train_examples)]
            if args.learning_rate is not None:
                argv += ["--learning-rate", str(args.learning_rate)]
    ranker_main(argv, program="python eval/model_table.py (ranker protocol)")
    return json.loads((out / f"{DATASET}-llamarec-ranker.json").read_text())


def ranker_rows(report: dict) -> dict[str, dict]:
    """The table's columns from one ranker report: one row for the base model, one for its adapter if any."""
    rows = report["test"]["rows"]
    ease = rows["evidence alone: EASE order, no LLM"]["inside_top20"]["NDCG@10"]
    out = {}
    for name in ("base", "adapter"):
        if name not in report["sampled20"]:
            continue
        w = report["validation"]["chosen_prior"][name]
        validated = rows[f"{name} ranker, w = {w:g} (validated)"]
        alone = rows[f"{name} ranker, LLM alone, w = 0"]
        row = {"sampled20_NDCG@10": report["sampled20"][name]["NDCG@10"],
               "sampled20_se": report["sampled20"][name]["NDCG@10_se"],
               "rerank_full_NDCG@10": validated["full"]["NDCG@10"], "prior_w": w,
               "rerank_inside_NDCG@10_llm_alone": alone["inside_top20"]["NDCG@10"],
               "rerank_inside_NDCG@10": validated["inside_top20"]["NDCG@10"],
               "ease_order_inside_NDCG@10": ease,
               "retriever_full_NDCG@10": next(v for k, v in rows.items()
                                              if k.startswith("retriever ("))["full"]["NDCG@10"],
               "users": {"sampled20": len(report["sampled20"][name]["ranks"]),
                         "reranked": report["test"]["users_target_in_top20"],
                         "validation": report["validation"]["users"]}}
        if name == "adapter":
            row["vs_ease"] = report["test"]["paired_NDCG@10_inside"].get("adapter(w*) - EASE order, no LLM")
            row["training"] = {k: report["training"][k] for k in ("seconds", "train_examples")} \
                if report.get("training") else None
        out[name] = row
    return out


def matmul_gflops(dtypes: list[str], threads: int, side: int = 1024) -> dict[str, float]:
    """GFLOP/s of a square matmul per dtype: bf16 runs 3× faster than fp32 on a CPU with AVX-512 bf16 and 100×
    slower on one without, so the probe decides which dtypes are worth a full ranking pass."""
    import torch

    torch.set_num_threads(threads)
    out = {}
    for dtype in dtypes:
        a = torch.randn(side, side).to(getattr(torch, dtype))
        a @ a  # warm-up
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < 1.0:
            a @ a
            n += 1
        out[dtype] = round(2 * side**3 * n / (time.perf_counter() - t0) / 1e9, 1)
    return out


def ranking_latency(model: str, dtypes: list[str], lists: int, threads: int, data_path: Path | None,
                    seed: int) -> dict[str, dict]:
    """Seconds per ranking pass (20 sampled candidates, the protocol's prompt) by dtype: median after a warm-up."""
    import numpy as np
    import torch

    from llmrec.catalog.movielens import read_movielens
    from llmrec.config import RankerConfig
    from llmrec.evaluation.candidates import CatalogItems
    from llmrec.evaluation.options import dataset_path
    from llmrec.evaluation.protocols import build_dataset, sample_candidates
    from llmrec.prompts import default_library
    from llmrec.ranking.backends import open_backend
    from llmrec.ranking.ranker import LLMRanker

    torch.set_num_threads(threads)
    catalog, interactions = read_movielens(dataset_path(DATASET, data_path))
    data = build_dataset(interactions, tie_break="item")
    items, ids = CatalogItems(catalog), data.item_ids
    hist, _ = data.inputs("test")
    cands = sample_candidates(data, "test", negatives=19, seed=seed)[: lists + 1]
    out = {}
    for dtype in dtypes:
        cfg = RankerConfig(model=model, dtype=dtype, retrieval_prior=0.0, seed=seed, threads=threads)
        t0 = time.perf_counter()
        ranker = LLMRanker(open_backend(cfg), default_library(), cfg)
        load_s = time.perf_counter() - t0
        seconds = []
        for j, codes in enumerate(cands):
            history = [items.one(ids[h]) for h in hist[j]]
            t1 = time.perf_counter()
            ranker.rank("", history, [items.one(ids[c]) for c in np.asarray(codes)])
            if j:  # the first pass warms caches and allocators
                seconds.append(time.perf_counter() - t1)
        out[dtype] = {"p50_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
                      "lists": len(seconds), "load_s": round(load_s, 1)}
        print(f"  {model} {dtype}: {out[dtype]}", file=sys.stderr, flush=True)
        del ranker
    return out


def _config_with_model(root: Path, model: str, dtype: str):
    """The workspace's own configuration (its ``llmrec.toml``, else the defaults) ranking with ``model`` in ``dtype``."""
    from llmrec.config import LLMRecConfig

    toml = root / "llmrec.toml"
    config = LLMRecConfig.from_toml(toml) if toml.is_file() else LLMRecConfig()
    config.ranker.model, config.ranker.dtype = model, dtype
    return config


def request_rows(model: str, dtype: str, sets: list[str], data: Path | None, cache: Path) -> dict[str, dict]:
    """The request benchmark's served pipeline with this model: precision@5 and seconds per request, per set."""
    import warnings

    from llmrec.evaluation.requests import benchmark_workspace, prepare_workspace
    from llmrec.recommender import Recommender

    out = {}
    for name in sets:
        root = prepare_workspace(name, data, cache)
        config = _config_with_model(root, model, dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = benchmark_workspace(Recommender(root, config), name, served=True, only=["served"])
        served = result["systems"]["served"]
        out[name] = {k: served[k] for k in ("requests", "precision@5", "exact_interpretation", "seconds_p50",
                                            "seconds_p95")}
    return out


def justification_row(model: str, dtype: str, cases: int, cache: Path) -> dict:
    """The justification benchmark in generated mode on the demo's first ``cases`` requests, with this model."""
    from llmrec.evaluation.justifications import demo_cases, run
    from llmrec.evaluation.justifications_report import prepare_demo

    root = prepare_demo(cache)
    config = _config_with_model(root, model, dtype)
    config.justification.enabled = True
    report = run([(root, demo_cases(0, None)[:cases])], k=3, modes=("generated",), rank=True,
                 log=lambda s: print(f"  {s}", file=sys.stderr, flush=True), config=config)
    overall = report["overall"]["generated"]
    return {k: overall[k] for k in ("requests", "justifications", "generated_share", "grounded_claim_rate",
                                    "personal_rate", "specific_rate", "justify_p50_s", "justify_p95_s")}


def _rate(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def markdown(report: dict) -> str:
    lines = ["# Model table (ml-latest-small, this CPU)", "",
             f"Users: sampled-20 {report['users']['sampled20']}, re-ranked (target in the retriever's top-20) "
             f"{report['users']['reranked']}, validation {report['users']['validation']}. Latency: one ranking pass "
             f"(20 candidates), median; dtype = the faster one measured here. Retriever: {report['retriever']}.", "",
             "| model | variant | sampled-20 N@10 (± SE) | re-rank full N@10 (w*) | inside top-20 N@10: LLM alone "
             "/ w* / EASE order | vs EASE (z) | ranking pass | requests P@5 · s/request |",
             "|---|---|---|---|---|---|---|---|"]
    for model, m in report["models"].items():
        lat = m["latency"][m["dtype"]]
        req = " ; ".join(f"{s}: {r['precision@5']} · {r['seconds_p50']:.2f}" for s, r in m.get("requests", {}).items())
        for variant, r in m["ranker"].items():
            z = r.get("vs_ease")
            vs = "—" if not z else f"{z['mean']:+.4f} (z {z['z']:+.1f})" if z.get("z") is not None else \
                f"{z['mean']:+.4f} (the same order)"  # SE 0: at the validated w it ranks exactly as EASE
            lines.append(f"| {model} | {variant} | {r['sampled20_NDCG@10']:.4f} ± {r['sampled20_se']:.4f} | "
                         f"{r['rerank_full_NDCG@10']:.4f} | {r['rerank_inside_NDCG@10_llm_alone']:.4f} / "
                         f"{r['rerank_inside_NDCG@10']:.4f} / {r['ease_order_inside_NDCG@10']:.4f} | {vs} | "
                         f"{lat['p50_s']:.2f} s ({m['dtype']}) | {req or '—'} |")
    justified = {model: m["justifications"] for model, m in report["models"].items() if m.get("justifications")}
    if justified:
        first = next(iter(justified.values()))
        lines += ["", f"Justifications written by the model (generated mode, demo, {first['requests']} requests, "
                  "k = 3; a sentence that fails the checks is replaced by the template's):", "",
                  "| model | justifications | generated share | grounded | personal | specific | s/request p50 / p95 |",
                  "|---|---|---|---|---|---|---|"]
        for model, j in justified.items():
            lines.append(f"| {model} | {j['justifications']} | {_rate(j['generated_share'])} | "
                         f"{_rate(j['grounded_claim_rate'])} | {_rate(j['personal_rate'])} | "
                         f"{_rate(j['specific_rate'])} | {_rate(j['justify_p50_s'])} / {_rate(j['justify_p95_s'])} |")
    lines += ["", f"Matmul probe (GFLOP/s, 1024², {report['cpus']} CPUs): {report['matmul_gflops']}; a dtype 3× "
              "slower than the best is not timed.", "", "Latency by dtype (median s per pass): " + "; ".join(
        f"{model}: " + ", ".join(f"{d} {v['p50_s']:.2f}" for d, v in m["latency"].items())
        for model, m in report["models"].items()), "",
        f"Random order on sampled-20: N@10 = 0.2274. Retriever alone (full ranking): N@10 = "
        f"{report['retriever_full_NDCG@10']:.4f}.", "",
        f"Command: `{report['command']}`; {report['wall_seconds']:.0f} s, load average {report['load_average']} on "
        f"{report['cpus']} CPUs (timings on a busy machine are inflated)."]
    for note in report.get("notes", []):
        lines += ["", note]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """``eval/model_table.py``."""
    import argparse

    from llmrec.evaluation.options import RESULTS
    from llmrec.evaluation.provenance import command_line, versions, write_report

    ap = argparse.ArgumentParser(prog="eval/model_table.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b",
                    help="comma-separated named models or folders")
    ap.add_argument("--train", nargs="?", const="all", default=None, metavar="MODELS",
                    help="also LoRA-train each model (same example budget) and add its adapter's row; an adapter "
                         "already trained by the table is reused; with a comma-separated list, only those models")
    ap.add_argument("--max-train-examples", type=int, default=1000, help="the training budget, the same for all")
    ap.add_argument("--learning-rate", type=float, default=None, help="LoRA learning rate for --train (default: "
                    "the ranker protocol's)")
    ap.add_argument("--adapters", type=Path, default=Path("adapters"), help="where --train keeps table-<model>")
    ap.add_argument("--valid-users", type=int, default=48)
    ap.add_argument("--test-users", type=int, default=None, help="re-rank only the first N users whose target is "
                    "in the top-20 (default: all, about 150)")
    ap.add_argument("--sampled-users", type=int, default=150)
    ap.add_argument("--latency-lists", type=int, default=5)
    ap.add_argument("--dtypes", default="float32,bfloat16", help="dtypes timed; the faster is used")
    ap.add_argument("--requests", default="demo", help="request sets for the served pipeline (comma-separated: "
                    "demo, ml-100k, ml-latest-small); empty to skip")
    ap.add_argument("--justification-cases", type=int, default=6, help="demo requests justified by each model "
                    "(generated mode, k = 3); 0 to skip")
    ap.add_argument("--data", type=Path, default=None, help="ml-latest-small folder")
    ap.add_argument("--request-data", type=Path, default=None, help="folder holding the MovieLens releases for "
                    "the request sets; default $LLMREC_DATA or ../shared/data")
    ap.add_argument("--retriever", choices=("sasrec", "ease"), default="sasrec", help="whose top-20 is re-ranked "
                    "(the ranker protocol's --retriever)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--work", type=Path, default=None, help="per-model ranker reports; default <out>/model-table/")
    ap.add_argument("--note", action="append", default=[], help="a line added to the report (repeatable)")
    args = ap.parse_args(argv)
    from llmrec.evaluation.options import data_root
    from llmrec.llm.cache import cache_dir

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    work = args.work or args.out / "model-table"
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    sets = [s.strip() for s in args.requests.split(",") if s.strip()]
    table: dict[str, dict] = {}
    last_report: dict = {}
    probe = matmul_gflops(args.dtypes.split(","), args.threads)
    print(f"matmul GFLOP/s by dtype: {probe}", file=sys.stderr, flush=True)
    for model in models:
        print(f"== {model}", file=sys.stderr, flush=True)
        worth = [d for d in probe if probe[d] * 3 >= max(probe.values())]  # a 3× slower matmul: not timed
        latency = ranking_latency(model, worth, args.latency_lists, args.threads, args.data, args.seed)
        dtype = min(latency, key=lambda d: latency[d]["p50_s"])
        last_report = ranker_report(model, args, work, dtype)
        entry = {"dtype": dtype, "latency": latency, "ranker": ranker_rows(last_report),
                 "ranker_report": str(work / model.replace("/", "_") / f"{DATASET}-llamarec-ranker.json")}
        if sets:
            entry["requests"] = request_rows(model, dtype, sets, args.request_data or data_root(),
                                             cache_dir() / "request-benchmark")
        if args.justification_cases:
            entry["justifications"] = justification_row(model, dtype, args.justification_cases,
                                                        cache_dir() / "justification-benchmark")
        table[model] = entry
    first = next(iter(table.values()))["ranker"]["base"]
    report = {"command": command_line("python eval/model_table.py", argv), "models": table,
              "users": first["users"], "retriever": f"{last_report['retriever']['name']}, top-20",
              "retriever_full_NDCG@10": first["retriever_full_NDCG@10"],
              "wall_seconds": round(time.perf_counter() - started, 1), "load_average": round(os.getloadavg()[0], 2),
              "cpus": os.cpu_count(), "matmul_gflops": probe, "versions": versions(("torch", "transformers", "peft")),
              "notes": list(args.note)}
    write_report(args.out / "model-table", report, markdown)
    return 0
