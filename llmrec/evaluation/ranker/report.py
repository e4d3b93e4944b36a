"""The ranker protocol's report: Markdown tables beside the published anchors, and issue 5's targets checked."""

from __future__ import annotations

from llmrec.evaluation.metrics import random_order_ndcg

ANCHORS = {  # LlamaRec Table 1 (ml-latest-small), M/N/R@10, as recorded in DESIGN.md
    "LlamaRec (Llama-2-7B QLoRA, published)": {"MRR@10": .0529, "NDCG@10": .0759, "Recall@10": .1524},
    "LRURec (published)": {"MRR@10": .0491, "NDCG@10": .0705, "Recall@10": .1426},
    "SASRec (published)": {"MRR@10": .0378, "NDCG@10": .0522, "Recall@10": .0993},
}


def markdown(report: dict) -> str:
    t, v = report["test"], report["validation"]
    m = report["machine"]
    lines = [f"# LLM ranker on the LlamaRec protocol ({report['dataset']})", "",
             f"Command: `{report['command']}`  ",
             f"Seed {report['seed']}, {m['threads']} torch thread(s) on {m['cpus']} CPUs, 1-min load average "
             f"{m['load_average_at_start']} at start / {m['load_average_at_end']} at end, wall time "
             f"{report['wall_seconds']:.0f} s, {report['created']}  ",
             "Versions: " + ", ".join(f"{k} {x}" for k, x in report["versions"].items()), "",
             f"Retriever: llmrec {report['retriever'].get('name', 'SASRec')} (config as in "
             f"`ml-latest-small-llamarec.md`), "
             f"{'loaded from the cache' if report['retriever']['loaded_from_cache'] else 'fitted in this run'} "
             f"({report['retriever']['seconds']:.0f} s). Ranker: {report['ranker']['model']}"
             + (f" + adapter `{report['adapter']}`" if report["adapter"] else "") + "."
             + (f" History items show {report['ranker']['history_facts_tokens']} tokens of card facts (year, "
                "genres) after their titles." if report["ranker"].get("history_facts_tokens") else ""), ""]
    ev = report.get("collaborative_evidence")
    if ev:
        lines += [f"Collaborative evidence on every option: EASE's level among the options (λ {ev['config']['l2']:g}, "
                  f"decay {ev['config']['decay']:g}, chosen on validation), shown as \"(similar users: very high / "
                  "high / medium / low)\" after each shuffled option's letter.", ""]
    tr = report["training"]
    if tr:
        mt = tr["metrics"]
        steps = mt.get("steps_run", mt["steps"])
        curve = ", ".join(f"{e['ndcg@10']:.4f} @ {e['step']}" for e in mt.get("evals", []))
        source = (f"each user's top-20 and evidence from an EASE fitted without that user's fold of {tr['folds']}, "
                  "only cuts whose next item it holds" if tr.get("folds") else "retriever top-20 hard negatives")
        if tr.get("prior"):
            source += (f"; trained as a residual over the retriever's order: the loss scores each option by its "
                       f"letter logprob − {tr['prior']:g}·log(1 + its place in the list)")
        cuts = tr.get("cuts") or {}
        if cuts.get("cuts"):
            source += (f": {cuts['out_of_fold_hits']:,} of {cuts['cuts']:,} cuts, where the retriever fitted on "
                       f"every user holds {cuts['in_sample_hits']:,} ({cuts['out_of_fold_hits'] / cuts['cuts']:.0%} "
                       f"against {cuts['in_sample_hits'] / cuts['cuts']:.0%})")
        lines += [f"Training: {tr['train_examples']} examples ({source}, cut points inside "
                  f"the training sequences), {tr['valid_examples']} validation users, {steps} optimiser "
                  f"steps (validation NDCG@10 by step: {curve}), best {mt['best_valid_ndcg@10']:.4f} at step "
                  f"{mt['best_step']}, kept; "
                  f"**{tr['seconds'] / 60:.1f} min** wall (examples + training + validations).", ""]
    lines += [f"## Full ranking, test ({t['users']} users; {t['users_target_in_top20']} have the target in the "
              "retriever's top-20 and are re-ranked, the rest keep the retriever's rank)", "",
              "| method | M@5 | N@5 | R@5 | M@10 | N@10 | R@10 | R@20 | N@10 inside top-20 | N@1 inside |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in t["rows"].items():
        f, i = row["full"], row["inside_top20"]
        lines.append(f"| {name} | {f['MRR@5']:.4f} | {f['NDCG@5']:.4f} | {f['Recall@5']:.4f} | {f['MRR@10']:.4f} | "
                     f"{f['NDCG@10']:.4f} | {f['Recall@10']:.4f} | {f['Recall@20']:.4f} | {i['NDCG@10']:.4f} | "
                     f"{i['NDCG@1']:.4f} |")
    for name, a in report["anchors"].items():
        lines.append(f"| {name} | | | | {a['MRR@10']:.4f} | {a['NDCG@10']:.4f} | {a['Recall@10']:.4f} | | | |")
    lines += ["", f"Random order inside the top-20 would give N@10 {random_order_ndcg(10, 20):.4f} there.", ""]
    if t["paired_NDCG@10_inside"]:
        lines += ["Paired per-user NDCG@10 differences on the re-ranked users (mean ± SE, z = mean/SE):", "",
                  "| pair | mean | SE | z |", "|---|---:|---:|---:|"]
        for pair, d in t["paired_NDCG@10_inside"].items():
            lines.append(f"| {pair} | {d['mean']:+.4f} | {d['se']:.4f} | {d['z']} |")
        lines.append("")
    lines += [f"Validation ({v['users']} users whose validation item is in the top-20; retriever order N@10 "
              f"{v['retriever_NDCG@10']:.4f}): NDCG@10 by retrieval-prior weight w", "",
              "| model | " + " | ".join(f"w={w}" for w in next(iter(v["prior_curves"].values()))) + " | chosen |",
              "|---|" + "---:|" * (len(next(iter(v["prior_curves"].values()))) + 1)]
    for name, curve in v["prior_curves"].items():
        lines.append(f"| {name} | " + " | ".join(f"{x:.4f}" for x in curve.values())
                     + f" | {v['chosen_prior'][name]:g} |")
    if report["sampled20"]:
        lines += ["", "## Sampled-20 (test target + 19 never-seen negatives, shuffled; LLM alone, w = 0)", "",
                  "| model | N@1 | N@5 | N@10 (± SE) |", "|---|---:|---:|---:|"]
        for name, s in report["sampled20"].items():
            se = f" ± {s['NDCG@10_se']:.4f}" if "NDCG@10_se" in s else ""
            lines.append(f"| {name} | {s['NDCG@1']:.4f} | {s['NDCG@5']:.4f} | {s['NDCG@10']:.4f}{se} |")
    lines += ["", *_targets(report), ""]
    return "\n".join(lines)


def _targets(report: dict) -> list[str]:
    """Issue 5's targets, checked against this report's numbers (only when an adapter was evaluated)."""
    rows, sampled = report["test"]["rows"], report["sampled20"]
    adapter = {k: v for k, v in rows.items() if k.startswith("adapter ranker")}
    if not adapter:
        return []
    inside = {k: v["inside_top20"]["NDCG@10"] for k, v in rows.items()}
    validated = next(k for k in adapter if "validated" in k)
    base_alone = next(k for k in rows if k.startswith("base ranker") and "alone" in k)
    adapter_alone = next(k for k in adapter if "alone" in k)
    retriever = next(v for k, v in inside.items() if k.startswith("retriever ("))
    gain = inside[adapter_alone] / inside[base_alone] - 1 if inside[base_alone] else float("nan")
    checks = [
        ("adapter beats the retriever's own order on the re-ranked users (N@10)",
         inside[validated] > retriever, f"{inside[validated]:.4f} vs {retriever:.4f}"),
        ("adapter beats the base model by ≥ 20% relative (LLM alone, N@10 inside the top-20)",
         gain >= 0.2, f"{inside[adapter_alone]:.4f} vs {inside[base_alone]:.4f}, {gain:+.0%}"),
    ]
    if "adapter" in sampled:
        rnd = sampled["random (exact)"]["NDCG@10"]
        a = sampled["adapter"]
        checks.append(("sampled-20 N@10 well above random (2 SE)", a["NDCG@10"] - 2 * a["NDCG@10_se"] > rnd,
                       f"{a['NDCG@10']:.4f} ± {a['NDCG@10_se']:.4f} vs {rnd:.4f}"))
    return ["Targets (issue 5):", ""] + [f"- {'met' if ok else '**not met**'}: {name} — {detail}"
                                        for name, ok, detail in checks]
