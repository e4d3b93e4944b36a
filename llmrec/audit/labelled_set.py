"""Proof that the audit works: run it on hand-labelled explanations over the demo catalog and score its flags.

The set (``llmrec/audit/data/labelled_explanations.jsonl``) holds true explanations built from card facts and false
ones with one planted error each (wrong person, year, number or genre, an invented award, an item that was not among
the candidates, a history item the user never saw). The hallucination flag is scored as a binary classifier: the
positive class is "has a planted error".

Run: ``python eval/audit_labelled.py [--no-judge] [--out eval/results]`` (or ``python -m llmrec.audit.labelled_set``);
the committed ``eval/results/audit-labelled*.{json,md}`` come from that driver.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, Field

from llmrec.audit.checks import ExplanationChecker, ExplanationVerdict
from llmrec.claims import Grounds
from llmrec.config import AuditConfig

# Package data, found the way an installed wheel has it (a checkout is the same tree).
DATA_DIR = Path(str(files("llmrec.audit") / "data"))
LABELLED_SET = DATA_DIR / "labelled_explanations.jsonl"
MEDIA_TEXT = DATA_DIR / "demo_media_text.json"


class LabelledExample(BaseModel):
    id: str
    label: str  # "true" | "false"
    error: str | None = None
    item_id: str
    explanation: str
    user_id: str | None = None
    candidates: list[str] | None = None


class ConfusionMatrix(BaseModel):
    """Hallucination flag vs planted error (positive = the explanation is false)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


class LabelledResult(BaseModel):
    examples: int
    true_explanations: int
    false_explanations: int
    judge: str = Field(description="judge model and threshold, or 'disabled'")
    config: AuditConfig
    matrix: ConfusionMatrix
    precision: float
    recall: float
    f1: float
    accuracy: float
    recall_by_error: dict[str, str] = Field(description="planted error kind -> flagged/total")
    claim_methods: dict[str, int] = Field(description="how many claims each method decided")
    mistakes: list[dict] = Field(default_factory=list, description="false positives and false negatives, with why")
    seconds: float


def load_examples(path: Path = LABELLED_SET) -> list[LabelledExample]:
    return [LabelledExample.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def demo_grounds(examples: list[LabelledExample], folder: Path) -> tuple[dict[str, tuple[str, str]], list[Grounds]]:
    """Write the demo catalog to ``folder``, render cards (with the media text of MEDIA_TEXT), and build one
    Grounds per example. Returns ``{item id: (title, card)}`` and the grounds."""
    from llmrec.catalog.cards import render_card
    from llmrec.catalog.readers import read_catalog, read_interactions
    from llmrec.demo import write_demo_catalog

    demo = write_demo_catalog(folder, with_speech=False)
    media = json.loads(MEDIA_TEXT.read_text(encoding="utf-8"))
    blank = {"error": None, "caption": None, "text": None, "tags": [], "facts": []}
    cards: dict[str, tuple[str, str]] = {}
    for item in read_catalog(demo.catalog).items:
        images = [{**blank, **m} for m in media["images"].get(item.id, [])]
        audio = [{**blank, **m} for m in media["audio"].get(item.id, [])]
        cards[item.id] = (item.title, render_card(item, images, audio))
    histories: dict[str, list[str]] = {}
    for i in sorted(read_interactions(demo.interactions).interactions, key=lambda i: (i.timestamp, i.row)):
        histories.setdefault(i.user_id, []).append(i.item_id)
    grounds = []
    for ex in examples:
        title, card = cards[ex.item_id]
        history = histories.get(ex.user_id, []) if ex.user_id else []
        grounds.append(Grounds(item_id=ex.item_id, title=title, card=card,
                               history={h: cards[h][0] for h in history},
                               history_cards={h: cards[h][1] for h in history},
                               candidates=set(ex.candidates) if ex.candidates is not None else None))
    return cards, grounds


def evaluate(judge=None, config: AuditConfig | None = None,
             path: Path = LABELLED_SET) -> tuple[LabelledResult, list[ExplanationVerdict]]:
    """Audit every labelled explanation and score the hallucination flag."""
    t0 = time.perf_counter()
    config = config or AuditConfig(judge=judge is not None)
    examples = load_examples(path)
    with tempfile.TemporaryDirectory() as tmp:
        cards, grounds = demo_grounds(examples, Path(tmp))
    checker = ExplanationChecker.from_cards(cards, judge=judge, config=config)
    verdicts = checker.check_many([(s, ex.explanation, {"user_id": ex.user_id, "group": "labelled"})
                                   for s, ex in zip(grounds, examples)])
    matrix = ConfusionMatrix()
    by_error: dict[str, list[int]] = {}
    mistakes = []
    for ex, v in zip(examples, verdicts):
        positive, flagged = ex.label == "false", v.flags.hallucination
        if positive:
            by_error.setdefault(ex.error or "?", [0, 0])
            by_error[ex.error or "?"][1] += 1
            by_error[ex.error or "?"][0] += int(flagged)
        if positive and flagged:
            matrix.tp += 1
        elif positive:
            matrix.fn += 1
        elif flagged:
            matrix.fp += 1
        else:
            matrix.tn += 1
        if positive != flagged:
            mistakes.append({"id": ex.id, "kind": "false negative" if positive else "false positive",
                             "error": ex.error, "explanation": ex.explanation,
                             "claims": [{"text": c.text, "label": c.label, "method": c.method,
                                         "why": [f.message for f in c.findings if f.label == c.label]}
                                        for c in v.claims]})
    p, r = matrix.precision, matrix.recall
    methods = Counter(c.method for v in verdicts for c in v.claims)
    judge_desc = f"{judge.model_id}, threshold {judge.threshold}" if judge is not None else "disabled"
    result = LabelledResult(
        examples=len(examples), true_explanations=sum(e.label == "true" for e in examples),
        false_explanations=sum(e.label == "false" for e in examples), judge=judge_desc, config=config,
        matrix=matrix,
        precision=round(p, 4), recall=round(r, 4), f1=round(2 * p * r / (p + r), 4) if p + r else 0.0,
        accuracy=round((matrix.tp + matrix.tn) / len(examples), 4),
        recall_by_error={k: f"{a}/{b}" for k, (a, b) in sorted(by_error.items())},
        claim_methods=dict(sorted(methods.items())), mistakes=mistakes, seconds=round(time.perf_counter() - t0, 2))
    return result, verdicts


def to_markdown(result: LabelledResult) -> str:
    m = result.matrix
    lines = [
        "# Explanation audit on the labelled set",
        "",
        f"{result.examples} explanations over the demo catalog ({result.true_explanations} true, "
        f"{result.false_explanations} with one planted error). Positive class: the explanation is false; "
        f"prediction: the audit's hallucination flag. Judge: {result.judge}.",
        "",
        "| | flagged | not flagged |",
        "|---|---:|---:|",
        f"| **false** (planted error) | TP {m.tp} | FN {m.fn} |",
        f"| **true** | FP {m.fp} | TN {m.tn} |",
        "",
        f"Precision **{result.precision:.3f}**, recall **{result.recall:.3f}**, F1 {result.f1:.3f}, "
        f"accuracy {result.accuracy:.3f} ({result.seconds:.1f} s).",
        "",
        "Recall by planted error: " + ", ".join(f"{k} {v}" for k, v in result.recall_by_error.items()) + ".",
        "",
        "Claims decided by: " + ", ".join(f"{k} {v}" for k, v in result.claim_methods.items()) + ".",
    ]
    if result.mistakes:
        lines += ["", "## Mistakes", ""]
        for mk in result.mistakes:
            why = "; ".join(f"“{c['text']}” → {c['label']} ({c['method']}: {', '.join(c['why']) or '-'})"
                            for c in mk["claims"] if (c["label"] != "supported") == (mk["kind"] == "false positive"))
            lines.append(f"- {mk['id']} ({mk['kind']}{', ' + mk['error'] if mk['error'] else ''}): "
                         f"“{mk['explanation']}” — {why or 'no claim flagged'}")
    return "\n".join(lines) + "\n"


def write_results(result: LabelledResult, out_dir: Path, name: str = "audit-labelled") -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    import hashlib
    import platform

    from llmrec import __version__

    data_hash = hashlib.sha256(LABELLED_SET.read_bytes() + MEDIA_TEXT.read_bytes()).hexdigest()[:16]
    payload = {"manifest": {"produced_by": "llmrec.audit.labelled_set", "llmrec": __version__,
                            "python": platform.python_version(), "data": LABELLED_SET.name,
                            "data_sha256": data_hash,
                            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
               **result.model_dump(mode="json")}
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(result), encoding="utf-8")
    return json_path, md_path


def main(argv: list[str] | None = None) -> int:
    import argparse

    from llmrec.evaluation.options import RESULTS

    parser = argparse.ArgumentParser(prog="eval/audit_labelled.py", description=__doc__.splitlines()[0])
    parser.add_argument("--no-judge", action="store_true", help="rules and word overlap only")
    parser.add_argument("--threshold", type=float, default=None, help="judge threshold (default: AuditConfig's)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: eval/results in the "
                        "current folder)")
    args = parser.parse_args(argv)
    config = AuditConfig(judge=not args.no_judge)
    if args.threshold is not None:
        config.judge_threshold = args.threshold
    judge = None
    if config.judge:
        from llmrec.audit.judge import ClaimJudge
        from llmrec.config import RankerConfig
        from llmrec.ranking.backends import open_backend

        judge = ClaimJudge(open_backend(RankerConfig()), threshold=config.judge_threshold)
    result, _ = evaluate(judge, config)
    name = "audit-labelled" if config.judge else "audit-labelled-no-judge"
    paths = write_results(result, args.out, name)
    print(to_markdown(result))
    print("written:", *paths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
