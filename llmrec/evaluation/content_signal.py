"""Is there a ranking signal in the catalog's facts beyond EASE's order? No LLM: EASE's top-20 on the LlamaRec split
(the ranker protocol's re-ranked test users) re-ordered by EASE's score plus weighted fact features, the weights
chosen on the validation users.

The features are what a ranker reading the prompt could compute from the history it is shown: each option's genre
overlap with the last k history items (per genre of the option, how many of those items share it, averaged) and its
year gap to the median year of the last k. Each is standardised within its list. Every single feature and every
genre × year pair is reported, with the paired difference from EASE's order on the test users, so one lucky pair
among many is visible as such. It bounds what an adapter can add over the collaborative evidence by reading titles,
years and genres (``eval/README.md``, ranker protocol).

    python eval/content_signal.py [--data PATH] [--out eval/results]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from llmrec.evaluation.metrics import paired_difference, per_user_ndcg, target_ranks
from llmrec.evaluation.options import RESULTS, dataset_path
from llmrec.evaluation.provenance import command_line, versions, write_report

DATASET = "ml-latest-small"
N_CANDIDATES = 20
WINDOWS = (5, 10, 20)
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="eval/content_signal.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, help="ml-latest-small folder; default $LLMREC_DATA/ml-latest-small or "
                                             "../shared/data/ml-latest-small")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: eval/results)")
    return p.parse_args(argv)


def standardised(x: np.ndarray) -> np.ndarray:
    """Each row to mean 0 and unit spread, ignoring missing values (NaN, an item without a year), which become 0:
    a feature's weight then means the same on every list."""
    mean = np.nanmean(x, axis=1, keepdims=True)
    spread = np.nanstd(x, axis=1, keepdims=True)
    z = (x - np.nan_to_num(mean)) / np.where(spread > 0, spread, 1.0)
    return np.nan_to_num(z, nan=0.0)


def fact_features(histories: Sequence[Sequence[int]], lists: np.ndarray, years: np.ndarray,
                  genres: Sequence[frozenset[str]]) -> dict[str, np.ndarray]:
    """(U, 20) per feature: ``genres@k`` (overlap with the last k history items) and ``year@k`` (minus the year
    gap to their median year)."""
    out = {}
    for k in WINDOWS:
        overlap = np.zeros(lists.shape)
        gap = np.full(lists.shape, np.nan)
        for row, (history, options) in enumerate(zip(histories, lists)):
            recent = list(history)[-k:]
            counts: dict[str, int] = {}
            for item in recent:
                for g in genres[item]:
                    counts[g] = counts.get(g, 0) + 1
            overlap[row] = [sum(counts.get(g, 0) for g in genres[c]) / max(1, len(genres[c])) for c in options]
            known = years[recent][~np.isnan(years[recent])]
            if len(known):
                gap[row] = -np.abs(years[options] - np.median(known))
        out[f"genres@{k}"], out[f"year@{k}"] = overlap, gap
    return out


class Split:
    """One stage's re-ranked users: EASE's top-20 where it holds the target, EASE's scores and the fact features
    over those lists, and the target's column."""

    def __init__(self, ease, data, stage: str, years: np.ndarray, genres: Sequence[frozenset[str]]):
        from llmrec.evaluation.candidates import top_candidates
        from llmrec.retrieval.protocol import masked_scores

        histories, targets = data.inputs(stage)
        top = top_candidates(ease, histories, N_CANDIDATES)
        hit = [j for j in range(len(targets)) if targets[j] in top[j]]
        self.users = len(hit)
        self.lists = top[hit]
        self.columns = np.array([int(np.flatnonzero(top[j] == targets[j])[0]) for j in hit], dtype=np.int64)
        kept = [histories[j] for j in hit]
        self.ease = standardised(np.take_along_axis(masked_scores(ease, kept), self.lists, axis=1))
        self.features = {name: standardised(f) for name, f in fact_features(kept, self.lists, years, genres).items()}

    def ndcg(self, weights: dict[str, float]) -> np.ndarray:
        """Per user NDCG@10 of the order by EASE's score plus the weighted features."""
        score = self.ease + sum(w * self.features[name] for name, w in weights.items())
        return per_user_ndcg(target_ranks(score, self.columns), 10)


def validated(valid: Split, names: tuple[str, ...]) -> dict[str, float]:
    """The weights (one per feature, from ``WEIGHTS``) with the best validation NDCG@10; the smallest on ties."""
    best, chosen = -1.0, {}
    for combo in itertools.product(WEIGHTS, repeat=len(names)):
        value = float(valid.ndcg(dict(zip(names, combo))).mean())
        if value > best + 1e-12:
            best, chosen = value, dict(zip(names, combo))
    return chosen


def main(argv: Sequence[str], program: str = "python eval/content_signal.py") -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    from llmrec.catalog.movielens import read_movielens
    from llmrec.evaluation.llamarec.methods import ease_model
    from llmrec.evaluation.protocols import build_dataset

    path = dataset_path(DATASET, args.data)
    catalog, interactions = read_movielens(path)
    data = build_dataset(interactions, tie_break="item")
    by_id = {item.id: item for item in catalog}
    years = np.array([float(by_id[i].attributes.get("year") or np.nan) for i in data.item_ids])
    genres = [frozenset(by_id[i].attributes.get("genres") or ()) for i in data.item_ids]
    ease = ease_model(data, {})
    valid, test = (Split(ease, data, stage, years, genres) for stage in ("valid", "test"))
    baseline = test.ndcg({})
    names = list(valid.features)
    candidates = [(n,) for n in names] + [(g, y) for g in names if g.startswith("genres")
                                          for y in names if y.startswith("year")]
    rows = []
    for features in candidates:
        weights = validated(valid, features)
        per_user = test.ndcg(weights)
        rows.append({"features": list(features), "weights": weights,
                     "valid_NDCG@10": round(float(valid.ndcg(weights).mean()), 4),
                     "test_NDCG@10": round(float(per_user.mean()), 4),
                     "vs_EASE": paired_difference(per_user, baseline)})
    choice = max(range(len(rows)), key=lambda i: rows[i]["valid_NDCG@10"])  # first of equals
    report = {"dataset": DATASET, "data": str(path), "command": command_line(program, argv),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "versions": versions(("numpy",)), "ease": ease.config.model_dump(),
              "users": {"valid": valid.users, "test": test.users},
              "EASE_order": {"valid_NDCG@10": round(float(valid.ndcg({}).mean()), 4),
                             "test_NDCG@10": round(float(baseline.mean()), 4)},
              "rows": rows, "validation_choice": choice, "machine": {"cpus": os.cpu_count()}}
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_report(args.out / f"{DATASET}-content-signal", report, markdown)
    return 0


def markdown(report: dict) -> str:
    e, u = report["EASE_order"], report["users"]
    lines = [f"# Catalog facts beyond EASE's order ({report['dataset']}, no LLM)", "",
             f"Command: `{report['command']}`; {report['created']}, {report['wall_seconds']:.0f} s.", "",
             f"EASE's top-20 on the LlamaRec split, the users whose target it holds ({u['valid']} validation, "
             f"{u['test']} test), re-ordered by EASE's score plus fact features (each standardised within its list), "
             f"the weights chosen on validation from {list(WEIGHTS)}. EASE's own order: NDCG@10 "
             f"{e['valid_NDCG@10']:.4f} (validation), {e['test_NDCG@10']:.4f} (test). `genres@k`: the option's "
             "genre overlap with the last k history items; `year@k`: minus its year gap to their median year. Every "
             "candidate is listed: with this many, one z ≥ 2 can be luck.", "",
             "| features | weights | valid N@10 | test N@10 | test − EASE (± SE) | z |",
             "|---|---|---:|---:|---:|---:|"]
    for r in report["rows"]:
        d = r["vs_EASE"]
        w = ", ".join(f"{v:g}" for v in r["weights"].values())
        lines.append(f"| {' + '.join(r['features'])} | {w} | {r['valid_NDCG@10']:.4f} | {r['test_NDCG@10']:.4f} | "
                     f"{d['mean']:+.4f} ± {d['se']:.4f} | {d['z']} |")
    chosen = report["rows"][report["validation_choice"]]
    d = chosen["vs_EASE"]
    lines += ["", f"**Chosen on validation** (the row with the best validation NDCG@10, the one choice that is not "
              f"made on the test users): {' + '.join(chosen['features'])}, test {chosen['test_NDCG@10']:.4f}, "
              f"{d['mean']:+.4f} ± {d['se']:.4f} against EASE's order (z {d['z']})."]
    return "\n".join(lines) + "\n"
