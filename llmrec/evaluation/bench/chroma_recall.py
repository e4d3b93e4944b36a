"""Does serving the collaborative model through Chroma lose candidates? Recall@k of Chroma's HNSW against exact search.

    nice -n 10 python eval/chroma_recall.py [--data PATH] [--epochs 5] [--no-ease] [--model DIR] [--out eval/results]

Trains the workspace's default collaborative model on ml-latest-small (5-core, training split of the LlamaRec
protocol): the sequential model (``--epochs`` caps training, since recall is a property of the index, not of how
good the model is) fused with EASE, whose vectors make the keys as wide as the catalog, the hard case for HNSW
(``--no-ease``: the sequential model alone). Or loads a saved one (``--model``, e.g. a workspace's ``collab/``
folder, whose items must cover the data's). It indexes the item vectors in
an embedded Chroma collection exactly as ``llmrec fit`` does, and for every user's test input (history masked, as
served) compares Chroma's top-k with the exact top-k by dot product. Required: Recall@50 >= 0.99.

Writes ``<out>/chroma-recall.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from llmrec.config import SequentialConfig, VectorStoreConfig
from llmrec.errors import CatalogError
from llmrec.evaluation.options import RESULTS, dataset_path
from llmrec.evaluation.protocols import build_dataset
from llmrec.evaluation.provenance import command_line, versions, write_report
from llmrec.retrieval.collab_model import FusedCollaborative, load_collaborative
from llmrec.retrieval.collaborative import CollaborativeIndex, collab_ann, index_item_vectors
from llmrec.retrieval.ease import EASERecommender
from llmrec.retrieval.sequential import SequentialRecommender
from llmrec.retrieval.stores import open_store

KS = (10, 20, 50)
REQUIRED = 0.99


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eval/chroma_recall.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="ml-latest-small folder (default: $LLMREC_DATA/ml-latest-small "
                                                  "or ../shared/data/ml-latest-small)")
    parser.add_argument("--model", type=Path, help="a saved sequential model folder instead of training one")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs when no --model is given")
    parser.add_argument("--no-ease", action="store_true", help="without --model: index the sequential model alone, "
                        "not fused with EASE")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return parser.parse_args(argv)


def recall_against_exact(index: CollaborativeIndex, histories: list[list[str]], ks=KS) -> dict:
    """Mean |Chroma top-k ∩ exact top-k| / k over users, with each user's history excluded, and query latency."""
    k_max = max(ks)
    overlap = {k: [] for k in ks}
    latency = []
    for history in histories:
        seen = set(history)
        exact = index.exact(history, k_max, exclude=seen)
        t0 = time.perf_counter()
        served = index.query(history, k_max, exclude=seen)
        latency.append(time.perf_counter() - t0)
        for k in ks:
            overlap[k].append(len(set(exact[:k]) & set(served[:k])) / len(exact[:k]))
    result = {f"Recall@{k}": float(np.mean(v)) for k, v in overlap.items()}
    result.update({f"min Recall@{k}": float(np.min(v)) for k, v in overlap.items()})
    result.update({"users": len(histories), "query_ms_p50": 1000 * float(np.percentile(latency, 50)),
                   "query_ms_p95": 1000 * float(np.percentile(latency, 95))})
    return result


def markdown(report: dict) -> str:
    r = report["result"]
    verdict = "meets" if r["Recall@50"] >= REQUIRED else "MISSES"
    return "\n".join([
        f"# Chroma vs exact search for the collaborative vectors ({report['dataset']})", "",
        f"Command: `{report['command']}`  ",
        f"{report['created']}, wall time {report['wall_seconds']:.0f} s, seed {report['seed']}  ",
        f"Model: {report['model']}; {report['items']:,} item vectors of width {report['vector_dim']} "
        f"(cosine space, see `llmrec.retrieval.collaborative`)  ",
        f"Index: embedded Chroma {report['versions']['chromadb']}, HNSW {report['ann']}  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), "",
        f"Each of the {r['users']} users' test input (history excluded, as served) is a query; recall is the share of "
        "the exact top-k (numpy dot products over every item) that Chroma returns in its top-k.", "",
        "| k | mean recall | worst user |", "|---:|---:|---:|",
        *[f"| {k} | {r[f'Recall@{k}']:.4f} | {r[f'min Recall@{k}']:.2f} |" for k in KS], "",
        f"Recall@50 {r['Recall@50']:.4f} {verdict} the required {REQUIRED}. Query latency through Chroma: "
        f"p50 {r['query_ms_p50']:.1f} ms, p95 {r['query_ms_p95']:.1f} ms (including the user vector; a user's "
        "history is excluded after the search, so heavy users ask Chroma for 50 + |history| neighbours; "
        f"1-minute load average {report['machine']['load_average']} on {report['machine']['cpus']} CPUs).",
        "", "Without `--model` the vectors come from a briefly trained model (to keep the run near 5 minutes on this "
        "CPU); a fully fitted model's vectors are spread differently and may be easier or harder for HNSW: "
        "`--model <workspace>/collab` measures one.", ""])


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    path = dataset_path("ml-latest-small", args.data)
    from llmrec.catalog.movielens import read_movielens

    data = build_dataset(read_movielens(path)[1], tie_break="row")
    print(f"{data.stats['users']:,} users, {data.stats['items']:,} items after 5-core")
    if args.model:
        model = load_collaborative(args.model)
        missing = set(data.item_ids) - set(model.item_ids)
        if missing:
            raise CatalogError(f"{args.model} does not know {len(missing)} of the data's items; fit it on this data")
        described = f"loaded from {args.model}"
    else:
        config = SequentialConfig(epochs=args.epochs, seed=args.seed)
        model = SequentialRecommender().fit(data.training_data(), config, progress=True)
        described = (f"{config.architecture} trained here for {model.metrics['epochs_run']} epoch(s) "
                     f"(validation NDCG@10 {model.metrics['valid_ndcg10']:.4f})")
        if not args.no_ease:
            model = FusedCollaborative(model, EASERecommender().fit(data.training_data()))
            search = model.fusion.fit(data.training_data()).search
            described += (f", fused with EASE (weight {search['weights']['ease']:.1f}, validation NDCG@10 "
                          f"{search['valid_NDCG@10']:.4f})")
    histories, _ = data.inputs("test")
    histories = [[data.item_ids[c] for c in h] for h in histories]
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(VectorStoreConfig(), Path(folder))
        t0 = time.perf_counter()
        index = CollaborativeIndex(model, index_item_vectors(model, store))
        index_seconds = time.perf_counter() - t0
        result = recall_against_exact(index, histories)
    report = {
        "dataset": "ml-latest-small", "data": str(path), "seed": args.seed, "model": described,
        "command": command_line("python eval/chroma_recall.py", argv),
        "items": len(model.item_ids), "vector_dim": model.vector_dim + 1, "ann": vars(collab_ann(model)),
        "index_seconds": round(index_seconds, 2), "result": result, "required_recall50": REQUIRED,
        "versions": versions(("torch", "chromadb", "numpy")),
        "machine": {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args.out / "chroma-recall", report, markdown)
    return 0 if result["Recall@50"] >= REQUIRED else 1
