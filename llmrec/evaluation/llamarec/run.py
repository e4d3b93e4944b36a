"""Run the LlamaRec retriever protocol (its Table 1) for popularity, BPR, EASE and llmrec's sequential models.

Protocol (DESIGN.md, "Protocols"): every rating is an implicit interaction; 5-core filtering to a fixpoint;
per-user order by (timestamp, tie key); the last item is the test target, the second-last the validation target;
models train on the rest and early-stop on validation NDCG@10; test inputs include the validation item; every item
is ranked with the input history masked; ties in score count against the target. It runs twice: ties in timestamp
broken by item id (LlamaRec's order, needed to compare with its numbers) and by original file row (honest).

Writes ``<out>/<dataset>-llamarec.json`` (everything, including per-epoch training curves), ``.md`` (tables) and
``-recall.png`` (Recall@k, k = 1..50, per method and variant); ``--refit`` runs write ``<dataset>-llamarec-refit.*``.
Run by ``llmrec eval`` and by ``python eval/llamarec_protocol.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from llmrec.catalog.interactions import InteractionLog
from llmrec.errors import CatalogError, ConfigError
from llmrec.evaluation.llamarec.methods import CONTENT_METHODS, METHODS, OPTIONAL_METHODS, Content, run_method
from llmrec.evaluation.llamarec.report import ANCHORS, VARIANTS, markdown, plot
from llmrec.evaluation.options import RESULTS, data_root, dataset_path
from llmrec.evaluation.protocols import SequenceDataset, build_dataset
from llmrec.evaluation.provenance import command_line, versions

DATASETS = ("ml-latest-small", "ml-100k", "ml-1m", "csv")
# Counts LlamaRec reports after 5-core filtering (its "ML-100k" is ml-latest-small); a mismatch means edited data.
EXPECTED_COUNTS = {"ml-latest-small": {"users": 610, "items": 3650, "interactions": 90274}}
VERSIONED = ("torch", "numpy", "pydantic", "safetensors", "matplotlib")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eval/llamarec_protocol.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=DATASETS, default="ml-latest-small")
    parser.add_argument("--data", type=Path, help="dataset folder (MovieLens) or CSV file user_id,item_id,timestamp; "
                                                  "default: $LLMREC_DATA/<dataset> or ../shared/data/<dataset>")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: eval/results)")
    parser.add_argument("--seed", type=int, default=0, help="seeds model initialisation, shuffling and sampling")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated, from " + ",".join(METHODS + OPTIONAL_METHODS) + " (default: all but "
                             + ",".join(OPTIONAL_METHODS) + ")")
    parser.add_argument("--tag", help="append -TAG to the report's file names, so a run of extra methods does not "
                             "overwrite the full report")
    parser.add_argument("--refit", action="store_true",
                        help="after validation picks the epoch count, retrain the sequential models on the training "
                             "and validation items for that many epochs and test the refit (what a workspace serves "
                             "with refit_on_all = true); validation metrics stay the held-out run's")
    parser.add_argument("--variants", default="item,row", help="tie rules to run: item, row or both")
    parser.add_argument("--epochs", type=int, help="cap training epochs of every model (smoke runs)")
    parser.add_argument("--posters", type=Path, help="folder of <movieId>.jpg posters for the image and fusion "
                                                     "methods; default: posters/ beside the datasets when present")
    return parser.parse_args(argv)


def resolve_data(args: argparse.Namespace) -> Path:
    if args.data is None and args.dataset == "csv":
        raise ConfigError("--dataset csv needs --data PATH to a CSV with user_id,item_id,timestamp columns")
    return dataset_path(args.dataset, args.data)


def load_interactions(dataset: str, path: Path) -> tuple[InteractionLog, str, list | None]:
    """The interaction log in file order, the md5 of the ratings file it came from (provenance), and the catalog
    (None for a bare interactions CSV)."""
    if dataset == "csv":
        from llmrec.catalog.readers import read_interactions

        return read_interactions(path, strict=True).interactions, _md5(path), None
    from llmrec.catalog.movielens import detect_movielens, read_movielens

    kind = detect_movielens(path)
    if kind is None:
        raise CatalogError(f"{path} is not a MovieLens folder (expected ratings.csv, u.data or ratings.dat)")
    ratings = {"ml-latest-small": "ratings.csv", "ml-100k": "u.data", "ml-1m": "ratings.dat"}[kind]
    catalog, interactions = read_movielens(path)
    return interactions, _md5(path / ratings), catalog


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def check_counts(dataset: str, data: SequenceDataset) -> None:
    print(f"after 5-core: {data.stats['users']:,} users, {data.stats['items']:,} items, "
          f"{data.stats['interactions']:,} interactions")
    expected = EXPECTED_COUNTS.get(dataset)
    if expected and data.stats != expected:
        raise CatalogError(f"{dataset} after 5-core should have {expected}, found {data.stats}: the data differs from "
                           "the GroupLens release LlamaRec used (check its md5, see shared/data/README.md)")


def main(argv: Sequence[str], program: str = "python eval/llamarec_protocol.py") -> int:
    """Run the protocol as ``argv`` asks; ``program`` is how the report names the command that ran it."""
    import torch

    args = parse_args(argv)
    if args.tag is not None and not args.tag.replace("-", "").isalnum():
        raise ConfigError(f"--tag {args.tag!r}: letters, digits and dashes only (it becomes part of file names)")
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for variant in variants:
        if variant not in VARIANTS:
            raise ConfigError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    path = resolve_data(args)
    interactions, md5, catalog = load_interactions(args.dataset, path)
    posters = args.posters or data_root() / "posters"
    if args.posters is not None and not posters.is_dir():
        raise ConfigError(f"posters not found: {posters} is not a folder")
    content = Content(catalog, posters if posters.is_dir() else None) if catalog is not None else None
    if content is not None:
        content.keep_for_ranker = args.dataset == "ml-latest-small"
    if content is None:
        dropped = [m for m in methods if m in CONTENT_METHODS]
        methods = [m for m in methods if m not in CONTENT_METHODS]
        if dropped:
            print(f"no item text in a bare interactions CSV: skipping {', '.join(dropped)}")
    print(f"{args.dataset}: {len(interactions):,} interactions read from {path}")
    report: dict = {
        "dataset": args.dataset, "data": str(path), "data_md5": md5,
        "command": command_line(program, argv),
        "seed": args.seed, "threads": args.threads, "versions": versions(VERSIONED),
        # Wall times depend on what else runs on the machine; the 1-minute load average at start says how busy it was.
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": round(os.getloadavg()[0], 2)},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": {"k_core": 5, "split": "leave-one-out", "ranking": "full, history masked",
                     "ties_in_score": "pessimistic", "selection": "validation NDCG@10, early stopping",
                     "refit_on_train_and_validation": args.refit},
        "anchors": ANCHORS if args.dataset == "ml-latest-small" else {},
        "posters": str(content.posters) if content is not None and content.posters else None,
        "results": {},
    }
    for variant in variants:
        data = build_dataset(interactions, tie_break=variant)
        print(f"\n{VARIANTS[variant]}")
        check_counts(args.dataset, data)
        report["counts"] = data.stats
        report.setdefault("data_fingerprints", {})[variant] = data.fingerprint()
        fitted: dict = {}
        report["results"][variant] = {m: run_method(m, data, args.seed, args.epochs, content, fitted, args.refit)
                                      for m in methods}
    if content is not None and content.image is not None:
        report["poster_coverage"] = round(content.image_coverage, 4)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{args.dataset}-llamarec" + ("-refit" if args.refit else "")  # a refit run never overwrites the protocol's
    if args.tag:
        name += f"-{args.tag}"
    stem = args.out / name
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    plot(report, args.out / f"{name}-recall.png")
    print("\n" + markdown(report))
    print(f"wrote {stem}.json, {stem}.md and {stem}-recall.png")
    return 0


