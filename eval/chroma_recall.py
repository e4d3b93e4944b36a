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
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

from llmrec.config import SequentialConfig, VectorStoreConfig  # noqa: E402
from llmrec.evaluation.protocols import build_dataset  # noqa: E402
from llmrec.retrieval.collaborative import (CollaborativeIndex, FusedCollaborative, collab_ann,  # noqa: E402
                                            index_item_vectors, load_collaborative)
from llmrec.retrieval.ease import EASERecommender  # noqa: E402
from llmrec.retrieval.sequential import SequentialRecommender  # noqa: E402
from llmrec.retrieval.stores import open_store  # noqa: E402

KS = (10, 20, 50)
REQUIRED = 0.99


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ml-latest-small",
                        help="ml-latest-small folder (default: ../shared/data/ml-latest-small)")
    parser.add_argument("--model", type=Path, help="a saved sequential model folder instead of training one")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs when no --model is given")
    parser.add_argument("--no-ease", action="store_true", help="without --model: index the sequential model alone, "
                        "not fused with EASE")
    parser.add_argument("--out", type=Path, default=REPO / "eval" / "results")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    if not args.data.exists():
        raise SystemExit(f"data not found: {args.data} does not exist; put ml-latest-small there "
                         "(see shared/data/README.md) or pass --data PATH")
    from llmrec.catalog.movielens import read_movielens

    data = build_dataset(read_movielens(args.data)[1], tie_break="row")
    print(f"{data.stats['users']:,} users, {data.stats['items']:,} items after 5-core")
    if args.model:
        model = load_collaborative(args.model)
        missing = set(data.item_ids) - set(model.item_ids)
        if missing:
            raise SystemExit(f"{args.model} does not know {len(missing)} of the data's items; fit it on this data")
        described = f"loaded from {args.model}"
    else:
        config = SequentialConfig(epochs=args.epochs, seed=args.seed)
        model = SequentialRecommender(data.item_ids, config)
        histories, targets = data.inputs("valid")
        model.fit(data.train, valid=(histories, targets))
        described = (f"{config.architecture} trained here for {model.metrics['epochs_run']} epoch(s) "
                     f"(validation NDCG@10 {model.metrics['valid_ndcg10']:.4f})")
        if not args.no_ease:
            ease = EASERecommender(data.n_items).fit(data.train)
            ease.select(histories, targets)
            model = FusedCollaborative(model, ease)
            search = model.fit_weights(histories, targets)
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
    from importlib.metadata import version

    report = {
        "dataset": "ml-latest-small", "data": str(args.data), "seed": args.seed, "model": described,
        "command": "python " + " ".join(shlex.quote(a) for a in
                                        ["eval/chroma_recall.py", *(sys.argv[1:] if argv is None else argv)]),
        "items": len(model.item_ids), "vector_dim": model.vector_dim + 1, "ann": vars(collab_ann(model)),
        "index_seconds": round(index_seconds, 2), "result": result, "required_recall50": REQUIRED,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "chromadb": version("chromadb"), "numpy": np.__version__},
        "machine": {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "chroma-recall.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "chroma-recall.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0 if result["Recall@50"] >= REQUIRED else 1


if __name__ == "__main__":
    raise SystemExit(main())
