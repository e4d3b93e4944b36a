"""The LlamaRec protocol's report: the published anchors, the Markdown tables and the Recall@k plot."""

from __future__ import annotations

import json
from pathlib import Path

from llmrec.evaluation.llamarec.methods import CONTENT_METHODS
from llmrec.evaluation.protocols import LLAMAREC_MASKED

# Published test results on ml-latest-small (LlamaRec, Table 1, as recorded in DESIGN.md): M/N/R@10 only.
ANCHORS = {
    "LlamaRec (Llama-2-7B QLoRA)": {"MRR@10": .0529, "NDCG@10": .0759, "Recall@10": .1524},
    "LRURec": {"MRR@10": .0491, "NDCG@10": .0705, "Recall@10": .1426},
    "SASRec": {"MRR@10": .0378, "NDCG@10": .0522, "Recall@10": .0993},
    "BERT4Rec": {"MRR@10": .0244, "NDCG@10": .0366, "Recall@10": .0785},
}
ANCHOR_NOTE = ("Published rows: M/N/R@10 from LlamaRec's Table 1 as recorded in DESIGN.md (@5 and retriever "
               "Recall@20/50 are not recorded there, so they are left blank rather than quoted from memory).")
VARIANTS = {"item": "ties by item id (LlamaRec)", "row": "ties by file row (honest)"}
TABLE_COLUMNS = ("MRR@5", "NDCG@5", "Recall@5", "MRR@10", "NDCG@10", "Recall@10", "Recall@20", "Recall@50")


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}".lstrip("0")


def markdown(report: dict) -> str:
    # Wall times compare only between runs on an equally idle machine; the load average says how idle it was.
    load = report["machine"]["load_average_at_start"]
    lines = [f"# LlamaRec protocol on {report['dataset']}", "",
             f"Command: `{report['command']}`  ",
             f"Seed {report['seed']}, {report['threads']} torch thread(s) on {report['machine']['cpus']} CPUs "
             f"(1-min load average {load} at start), wall time {report['wall_seconds']:.0f} s, "
             f"{report['created']}  ",
             f"Data: {report['data']} (ratings md5 {report['data_md5']}); after 5-core "
             f"{report['counts']['users']:,} users, {report['counts']['items']:,} items, "
             f"{report['counts']['interactions']:,} interactions  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), "",
             "Full ranking over all items, history masked, ties in score counted against the target; test split "
             "(input includes the validation item). M = MRR, N = NDCG, R = Recall.", ""]
    if report["protocol"].get("refit_on_train_and_validation"):
        lines += ["`--refit`: each sequential model row is tested after retraining on the training and validation "
                  "items for its validated epoch count (what a workspace serves with `refit_on_all = true`); its "
                  "validation columns are the held-out run's, and `sasrec+lru` combines the held-out runs; "
                  "`ease` is refitted with its validated λ and decay; `lru+sasrec+ease` and `fusion` combine the "
                  "refitted collaborative models with the weights fitted on the held-out runs, and the pair's "
                  "members are read from the refitted pair.",
                  ""]
    header = "| method | " + " | ".join(c.replace("MRR", "M").replace("NDCG", "N").replace("Recall", "R")
                                       for c in TABLE_COLUMNS) + " | train s |"
    rule = "|---|" + "---:|" * (len(TABLE_COLUMNS) + 1)
    for variant, results in report["results"].items():
        lines += [f"## {VARIANTS[variant]}", "", header, rule]
        for method, result in results.items():
            lines.append(f"| {method} (ours) | " + " | ".join(fmt(result["test"].get(c)) for c in TABLE_COLUMNS)
                         + f" | {result['train_seconds']:.0f} |")
        if report["dataset"] == "ml-latest-small":
            for name, anchor in ANCHORS.items():
                lines.append(f"| {name} (published) | " + " | ".join(fmt(anchor.get(c)) for c in TABLE_COLUMNS)
                             + " | |")
        lines += ["", "Validation (model selection) and sampled-20 on test (1 target + 19 unseen negatives, seeded):",
                  "", "| method | valid N@10 | valid R@10 | best epoch / run | sampled N@1 | sampled N@5 | "
                      "sampled N@10 |", "|---|---:|---:|---:|---:|---:|---:|"]
        for method, result in results.items():
            training = result["training"]
            epochs = f"{training['best_epoch']} / {training['epochs_run']}" if "best_epoch" in training else "–"
            lines.append(f"| {method} | {fmt(result['valid']['NDCG@10'])} | {fmt(result['valid']['Recall@10'])} | "
                         f"{epochs} | {fmt(result['test_sampled20']['NDCG@1'])} | "
                         f"{fmt(result['test_sampled20']['NDCG@5'])} | {fmt(result['test_sampled20']['NDCG@10'])} |")
        masked = {m: r for m, r in results.items() if "test_llamarec_mask" in r}
        if masked:
            lines += ["", f"Test M/N/R@10 with LlamaRec's masking: only the newest {LLAMAREC_MASKED} history items "
                      "masked, as its code masks the truncated model input (users with longer histories can be shown "
                      "older seen items); the published rows were measured this way: " + "; ".join(
                          f"{m} " + " / ".join(fmt(r["test_llamarec_mask"][c])
                                               for c in ("MRR@10", "NDCG@10", "Recall@10"))
                          + (" (held out: " + " / ".join(fmt(r["refit"]["test_without_refit_llamarec_mask"][c])
                                                        for c in ("MRR@10", "NDCG@10", "Recall@10")) + ")"
                             if r.get("refit", {}).get("test_without_refit_llamarec_mask") else "")
                          for m, r in masked.items()) + "."]
        refits = {m: r["refit"] for m, r in results.items() if r.get("refit")}
        if refits:
            lines += ["", "Refits, and the held-out run's own test M/N/R@10 (no refit): " + "; ".join(
                f"{m} " + (f"{r['epochs']} epochs " if "epochs" in r else "") + f"in {r['seconds']:.0f} s, "
                "without refit " + " / ".join(fmt(r["test_without_refit"][c])
                                              for c in ("MRR@10", "NDCG@10", "Recall@10"))
                for m, r in refits.items()) + "."]
        for method, result in results.items():
            fusion = result.get("fusion")
            if fusion:
                lines += ["", f"`{method}` weights (scores scaled to unit spread, weights on a 0.1 simplex grid, "
                          f"fitted on validation NDCG@10 over {fusion['grid_points']} points): " + ", ".join(
                              f"{n} {w:.1f}" for n, w in fusion["weights"].items())
                          + f" → valid N@10 {fusion['valid_NDCG@10']:.4f}; each block alone: " + ", ".join(
                              f"{n} {v:.4f}" for n, v in fusion["single_block_valid_NDCG@10"].items()) + "."]
        lines.append("")
    ran = {m for results in report["results"].values() for m in results}
    if report.get("posters") and ran & set(CONTENT_METHODS):
        lines += [f"Content baselines: `text` = recency-weighted profile of the history's card embeddings "
                  f"(all-MiniLM-L6-v2 over title, year, genres, tags); `image` = the same over a colour/layout "
                  f"descriptor of the posters ({report.get('poster_coverage', 0):.0%} of items have one; no CLIP "
                  "weights are available offline, so this is low-level vision, not image-text); `fusion` = "
                  "weighted concatenation of the text, image, lru+sasrec and EASE blocks (`llmrec.retrieval.fusion`).",
                  ""]
    lines += ["Collaborative models: `sasrec` = causal self-attention, `lru` = linear recurrent units (LRURec's "
              "architecture, llmrec's implementation), both with full-softmax cross-entropy, a per-item output bias "
              "and a cosine schedule (`llmrec.retrieval.sequential`); `lru+sasrec` = the two trained side by side "
              "as one model, each on its own loss, mixed by a weight picked on validation (llmrec's `architecture = "
              "\"lru+sasrec\"`); `lru+sasrec/lru` and `lru+sasrec/sasrec` = each member of that pair scored alone "
              "(its epoch chosen by the pair); `ease` = EASE (Steck, 2019), a closed-form item-to-item ridge model "
              "over the whole log, queried by the history weighted `decay ** age`, λ and decay picked on validation "
              "(`llmrec.retrieval.ease`); `lru+sasrec+ease` = that pair and EASE with concatenated vectors, weights "
              "fitted on validation: what a workspace serves (`[collaborative]` defaults). When run: `sasrec` and "
              "`lru` fitted separately, and `sasrec+lru` = those two fitted models with concatenated vectors. Every "
              "combination is still one dot product per item.",
              ""]
    if report["dataset"] == "ml-latest-small":
        lines += [ANCHOR_NOTE, "", "The LLM ranker rows (base model and LoRA adapter re-ranking the SASRec top-20, "
                  "users outside keeping SASRec's rank) are in `ml-latest-small-llamarec-ranker.md` "
                  "(`eval/ranker_protocol.py`).", ""]
    lines += ["Configs:", "", "```json", json.dumps({m: r["config"] for m, r in
                                                      next(iter(report["results"].values())).items()}, indent=1),
              "```", ""]
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(report["results"])
    fig, axes = plt.subplots(1, len(variants), figsize=(6 * len(variants), 4.5), sharey=True, squeeze=False)
    for ax, variant in zip(axes[0], variants):
        for method, result in report["results"][variant].items():
            curve = result["test_recall_curve"]
            ax.plot(range(1, len(curve) + 1), curve, label=method)
        if report["dataset"] == "ml-latest-small":
            for name, style in (("LRURec", "x"), ("SASRec", "+"), ("BERT4Rec", "1")):
                ax.plot([10], [ANCHORS[name]["Recall@10"]], style, color="black", label=f"{name} R@10 (published)")
            ax.plot([10], [ANCHORS["LlamaRec (Llama-2-7B QLoRA)"]["Recall@10"]], "*", color="black",
                    label="LlamaRec R@10 (published)")
        ax.set_title(f"{report['dataset']}: {VARIANTS[variant]}")
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test Recall@k (full ranking, history masked)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
