"""Image tags on real posters: how often the packaged classifier says anything, and whether what it says is right.

Over a posters folder (``<movieId>.jpg``), the classifier's top labels and probabilities for every poster give the
share of posters with at least one "looks like" tag at each threshold (medium labels such as "comic book" never
count). A seeded sample of posters is listed with the tags the configured threshold shows; a person looks at each
poster and records in a judgements file (``{movieId: {label: true|false}}``) whether each tag is visibly there, and
the report folds those in as precision. The same run can list a second, disjoint calibration sample, on which the
threshold was chosen.
"""

from __future__ import annotations

import csv
import json
import random
import time
from pathlib import Path

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def classify_folder(posters: list[Path], top: int = 5, log=print) -> dict[str, list[tuple[str, float]]]:
    """``{movieId: [(label, p), ...top]}`` for each poster that decodes; medium labels kept (filtered later)."""
    from PIL import Image

    from llmrec.media.image_classes import ImageClassTagger

    tagger = ImageClassTagger()
    out: dict[str, list[tuple[str, float]]] = {}
    t0 = time.perf_counter()
    for i, path in enumerate(posters, 1):
        try:
            with Image.open(path) as im:
                out[path.stem] = [(label, round(p, 4)) for label, p in tagger.probabilities(im)[:top]]
        except OSError as e:
            log(f"skipped {path.name}: {e}")
        if i % 250 == 0:
            log(f"{i}/{len(posters)} posters, {(time.perf_counter() - t0) / i:.3f} s each")
    return out


def shown_tags(labels: list[tuple[str, float]], threshold: float, top_k: int = 3) -> list[tuple[str, float]]:
    """What the card would show: ``ImageClassTagger.tags``' rule on stored probabilities."""
    from llmrec.media.image_classes import MEDIUM_LABELS

    out = []
    for label, p in labels:
        if p < threshold or len(out) == top_k:
            break
        if label not in MEDIUM_LABELS:
            out.append((label, p))
    return out


def titles(movies_csv: Path | None) -> dict[str, str]:
    if movies_csv is None or not movies_csv.is_file():
        return {}
    with open(movies_csv, newline="", encoding="utf-8") as f:
        return {row["movieId"]: row["title"] for row in csv.DictReader(f)}


def precision(sample: list[dict], judgements: dict[str, dict[str, bool]], threshold: float | None = None) -> dict:
    """Of the tags shown (at ``threshold``, from each poster's stored top labels; else as the sample recorded them),
    the share judged right; posters with a tag."""
    shown = {s["movieId"]: (s["tags"] if threshold is None else shown_tags(s["top"], threshold)) for s in sample}
    judged = [(m, label) for m, tags in shown.items() for label, _ in tags if label in judgements.get(m, {})]
    right = sum(judgements[m][label] for m, label in judged)
    return {"tags_shown": sum(len(t) for t in shown.values()), "tags_judged": len(judged), "tags_right": right,
            "precision": round(right / len(judged), 3) if judged else None,
            "posters_tagged": sum(bool(t) for t in shown.values()), "posters": len(sample)}


def build_report(probs: dict, threshold: float, sample_n: int, seed: int, names: dict,
                 judgements: dict, calibration: dict) -> dict:
    ids = sorted(probs, key=int)
    share = {str(t): round(sum(bool(shown_tags(probs[m], t)) for m in ids) / len(ids), 4) for t in THRESHOLDS}
    rng = random.Random(seed)
    drawn = rng.sample(ids, min(len(ids), 2 * sample_n))
    samples = {}
    for name, chosen in (("check", drawn[:sample_n]), ("calibration", drawn[sample_n:])):
        samples[name] = [{"movieId": m, "title": names.get(m, ""), "top": probs[m][:3],
                          "tags": shown_tags(probs[m], threshold)} for m in chosen]
    report = {"posters": len(ids), "threshold": threshold, "share_with_a_tag": share,
              "share_at_threshold": share.get(str(threshold)), "samples": samples,
              "check_precision": precision(samples["check"], judgements)}
    for name, judged in (("check", judgements), ("calibration", calibration)):
        if judged:
            report[f"{name}_precision_by_threshold"] = {str(t): precision(samples[name], judged, t)
                                                         for t in THRESHOLDS}
    return report


def markdown(report: dict) -> str:
    lines = ["# Image tags on posters (EfficientNet-Lite0, ImageNet-1k)", "",
             f"{report['posters']} posters; a tag needs probability ≥ the threshold and is not a medium label "
             f"(comic book, dust jacket, website, …). Threshold used: **{report['threshold']}**.", "",
             "| threshold | " + " | ".join(report["share_with_a_tag"]) + " |",
             "|---|" + "---|" * len(report["share_with_a_tag"]),
             "| posters with ≥1 tag | " + " | ".join(f"{v:.1%}" for v in report["share_with_a_tag"].values()) + " |",
             ""]
    p = report["check_precision"]
    lines += [f"## Hand-checked sample ({p['posters']} posters, seeded)", "",
              f"{p['posters_tagged']} of {p['posters']} posters got a tag; {p['tags_right']} of {p['tags_judged']} "
              f"judged tags were visibly right (precision {p['precision']}).", "",
              "| movieId | title | top-3 (p) | tags shown | judged (every label at p ≥ 0.1) |", "|---|---|---|---|---|"]
    judged = report.get("judgements", {})
    for s in report["samples"]["check"]:
        top = ", ".join(f"{label} {pr:.2f}" for label, pr in s["top"])
        tags = ", ".join(label for label, _ in s["tags"]) or "—"
        verdicts = judged.get(s["movieId"], {})
        mark = ", ".join(f"{label}: {'right' if v else 'wrong'}" for label, v in verdicts.items()) or "—"
        lines.append(f"| {s['movieId']} | {s['title']} | {top} | {tags} | {mark} |")
    for name in ("calibration", "check"):
        by = report.get(f"{name}_precision_by_threshold")
        if by:
            lines += ["", f"Precision by threshold on the {name} sample (judged right / tags shown):", "",
                      "| threshold | " + " | ".join(by) + " |", "|---|" + "---|" * len(by),
                      "| right / shown | " + " | ".join(f"{v['tags_right']}/{v['tags_judged']}" for v in by.values())
                      + " |"]
    if report.get("how"):
        lines += ["", f"Judging: {report['how']}"]
    if report.get("conclusion"):
        lines += ["", f"**Conclusion.** {report['conclusion']}"]
    lines += ["", f"Command: `{report.get('command', '')}`; {report.get('seconds', 0):.0f} s, "
                  f"{report.get('seconds_per_poster', 0):.3f} s per poster."]
    return "\n".join(lines) + "\n"


def _cached_probabilities(posters: list[Path]) -> tuple[dict, float]:
    """The classifier's output for these posters, kept in the llmrec cache: a report rerun (another threshold, new
    judgements) does not classify 3,867 posters again. Keyed by the posters' paths, sizes and the weights."""
    import hashlib

    from llmrec.llm.cache import cache_dir
    from llmrec.media.image_classes import CLASSIFIER

    key = hashlib.sha256(json.dumps([CLASSIFIER.weights_sha256, [(str(p), p.stat().st_size) for p in posters]])
                         .encode()).hexdigest()[:16]
    path = cache_dir() / "eval" / f"image-tags-{key}.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        return saved["probs"], saved["seconds"]
    t0 = time.perf_counter()
    probs = classify_folder(posters, log=lambda s: print(s, flush=True))
    seconds = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"probs": probs, "seconds": seconds}))
    return probs, seconds


def main(argv: list[str]) -> int:
    """``eval/image_tags.py``."""
    import argparse

    from llmrec.evaluation.options import RESULTS, data_root
    from llmrec.evaluation.provenance import command_line, versions, write_report
    from llmrec.media.image_classes import DEFAULT_MIN_PROBABILITY

    ap = argparse.ArgumentParser(prog="eval/image_tags.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posters", type=Path, default=None, help="folder of <movieId>.jpg; default <data>/posters")
    ap.add_argument("--movies", type=Path, default=None, help="movies.csv for titles; default "
                    "<data>/ml-latest-small/movies.csv")
    ap.add_argument("--limit", type=int, default=None, help="classify a seeded random N of the posters (default: "
                    "all; about 0.15 s each on an idle core)")
    ap.add_argument("--threshold", type=float, default=DEFAULT_MIN_PROBABILITY)
    ap.add_argument("--sample", type=int, default=30, help="posters in the hand-checked sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--judgements", type=Path, default=Path("eval") / "image_tags_judgements.json",
                    help="hand judgements {movieId: {label: true|false}} (and an optional 'calibration' note)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    import torch

    from llmrec.evaluation.options import dataset_path

    torch.set_num_threads(args.threads)
    folder = dataset_path("posters", args.posters)
    posters = sorted(folder.glob("*.jpg"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    if args.limit and args.limit < len(posters):
        posters = sorted(random.Random(args.seed).sample(posters, args.limit), key=lambda p: int(p.stem))
    probs, seconds = _cached_probabilities(posters)
    raw = json.loads(args.judgements.read_text()) if args.judgements.is_file() else {}
    judgements = raw.get("check", {})
    names = titles(args.movies or data_root() / "ml-latest-small" / "movies.csv")
    report = build_report(probs, args.threshold, args.sample, args.seed, names, judgements,
                          raw.get("calibration", {}))
    report.update({"judgements": judgements, "how": raw.get("how", ""), "conclusion": raw.get("conclusion", ""), "command": command_line("python eval/image_tags.py", argv),
                   "seconds": round(seconds, 1), "seconds_per_poster": round(seconds / max(1, len(probs)), 4),
                   "threads": args.threads, "versions": versions(("torch", "efficientnet-lite-pytorch"))})
    write_report(args.out / "image-tags", report, markdown)
    return 0
