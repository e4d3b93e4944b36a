"""Probe the frozen base model: is there anything in its hidden states that re-ranks the retriever's top-20 better
than the retriever's own score? About 25 minutes here.

    nice -n 5 python eval/ranker_probe.py [--train-examples 500] [--valid-users 150] [--facts] [--layers 10,20,30]
        [--data PATH] [--out FILE.json]

Why it exists: LoRA runs of the ranker (``ranker_pilot.py``) did not learn, and a failed training run cannot say
whether the optimisation failed or the signal is not there. This asks the cheaper question first. Each prompt (the
served ranker's prompt, optionally with fit facts per option) goes once through the frozen model; the hidden state
at the end of each option, at a few depths, is a feature vector for that candidate. Listwise linear heads (softmax
over the 20 options, L2-regularised) are then fitted on training cut points and scored by NDCG@10 on validation
users whose item is in the retriever's top-20, against:

- the retriever's own order (its score alone);
- the retriever's score + the fit facts (genre overlap, year gap, log popularity) as numbers, no LLM at all;
- the LLM's features alone, and the LLM's features + the retriever's score.

Heads are fitted twice: on every training cut point (the true item swapped in for the 20th candidate when the
retriever missed it, as ``llmrec train`` builds its examples) and on the *natural* ones only (the true item already
in the top-20, the only case the ranker can change at serving). The difference between the two shows how much the
swapped-in targets mislead: a swapped-in item is by construction one the retriever scored low, so on all cut points
a head learns to *prefer* low retriever scores.

A linear head on frozen states is a lower bound on what LoRA could extract, not the same thing; but if it does not
beat the retriever with hundreds of examples, a LoRA of a few hundred steps on this CPU is unlikely to.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "eval"))

import numpy as np  # noqa: E402

from llmrec.evaluation.metrics import per_user_ndcg, target_ranks  # noqa: E402
from llmrec.evaluation.protocols import masked_scores  # noqa: E402
from ranker_pilot import (HISTORY_FOR_FACTS, add_setup_arguments, genres, load_setup,  # noqa: E402
                          option_ends, with_facts, write_report, year)
from ranker_protocol import top_candidates  # noqa: E402

WEIGHT_DECAY = (1e-2, 1e-1, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-examples", type=int, default=500, help="training cut points (natural or not)")
    p.add_argument("--valid-users", type=int, default=150, help="validation users whose item is in the top-20")
    p.add_argument("--facts", action="store_true", help="start each option with computed fit facts")
    p.add_argument("--layers", default="10,20,30", help="hidden-state depths to read (the last one is after the "
                                                        "final norm)")
    add_setup_arguments(p, out="write the table as JSON here")
    args = p.parse_args(argv)
    try:
        args.layers = [int(x) for x in args.layers.split(",") if x.strip()]
    except ValueError:
        p.error("--layers takes comma-separated integers, e.g. 10,20,30")
    if not args.layers or min(args.layers) < 0:
        p.error("--layers needs at least one depth >= 0")
    if args.train_examples < 2 or args.valid_users < 1:
        p.error("--train-examples must be >= 2 and --valid-users >= 1")
    return args


# ---- heads ----------------------------------------------------------------------------------------------------------

def ndcg(scores: np.ndarray, target: np.ndarray) -> float:
    """Mean NDCG@10 of the target option per row; ties count against the target."""
    return float(per_user_ndcg(target_ranks(scores, target), 10).mean()) if len(target) else float("nan")


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Per-feature z-scores with the training rows' mean and spread."""
    flat = train.reshape(-1, train.shape[-1])
    mean, std = flat.mean(0), flat.std(0) + 1e-5
    return [(a - mean) / std for a in (train, *others)]


def within_list(scores: np.ndarray) -> np.ndarray:
    """(N, 20) retriever scores → (N, 20, 1) z-scored within each list (only the order inside a list matters)."""
    return ((scores - scores.mean(1, keepdims=True)) / (scores.std(1, keepdims=True) + 1e-6))[..., None]


def fit_head(x: np.ndarray, target: np.ndarray, weight_decay: float, steps: int = 400, seed: int = 0) -> np.ndarray:
    """Weights of a listwise linear head: softmax over each row's options of ``x @ w``, cross-entropy on the target."""
    import torch

    torch.manual_seed(seed)
    xs, ys = torch.tensor(x, dtype=torch.float32), torch.tensor(target, dtype=torch.long)
    w = torch.zeros(x.shape[-1], requires_grad=True)
    optimiser = torch.optim.Adam([w], lr=0.01)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(xs @ w, ys) + weight_decay * (w ** 2).sum()
        loss.backward()
        optimiser.step()
    return w.detach().numpy()


def head_table(train: dict, valid: dict, layers: list[int]) -> list[dict]:
    """NDCG@10 on ``valid`` of every head, fitted on all of ``train`` and on its natural cut points."""
    rows = [{"head": "retriever's own order", "fit_on": "-", "weight_decay": None,
             "valid_ndcg@10": ndcg(valid["retriever"], valid["target"])}]
    for fit_on in ("all", "natural"):
        keep = np.ones(len(train["target"]), bool) if fit_on == "all" else train["natural"]
        t = {k: v[keep] for k, v in train.items()}
        if len(t["target"]) < 2:
            continue
        r_t, r_v = within_list(t["retriever"]), within_list(valid["retriever"])
        f_t, f_v = standardise(t["facts"], valid["facts"])
        blocks = [("facts", f_t, f_v), ("retriever + facts", np.concatenate([r_t, f_t], -1),
                                        np.concatenate([r_v, f_v], -1))]
        width = t["hidden"].shape[-1] // len(layers)
        for i, layer in enumerate(layers):
            h_t, h_v = standardise(t["hidden"][..., i * width:(i + 1) * width].astype(np.float32),
                                   valid["hidden"][..., i * width:(i + 1) * width].astype(np.float32))
            blocks += [(f"LLM layer {layer}", h_t, h_v),
                       (f"retriever + LLM layer {layer}", np.concatenate([r_t, h_t], -1),
                        np.concatenate([r_v, h_v], -1))]
        for name, x_t, x_v in blocks:
            for wd in WEIGHT_DECAY:
                w = fit_head(x_t, t["target"], wd)
                row = {"head": name, "fit_on": fit_on, "weight_decay": wd, "train_examples": int(len(t["target"])),
                       "valid_ndcg@10": ndcg(x_v @ w, valid["target"])}
                if name.startswith("retriever"):
                    row["retriever_weight"] = float(w[0])
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


# ---- features -------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmrec.models import resolve_model

    started = time.perf_counter()
    setup = load_setup(args)
    data, items, retriever, facts, ranker = setup.data, setup.items, setup.retriever, setup.facts, setup.ranker

    def numeric_facts(code: int, history: list[int]) -> list[float]:
        last = [items(h) for h in history[-HISTORY_FOR_FACTS:]]
        g = genres(items(code))
        years = [y for y in (year(h) for h in last) if y]
        y = year(items(code))
        return [sum(1 for h in last if genres(h) & g) / max(1, len(last)),
                abs(y - float(np.mean(years))) / 10 if years and y is not None else 1.0,
                float(np.log1p(facts.pop[code]))]

    # Training: cut points inside the training sequences (last 4 per user); validation: held-out items in the top-20.
    rng = np.random.default_rng(args.seed)
    cuts = [(u, k) for u, seq in enumerate(data.train) for k in range(max(1, len(seq) - 4), len(seq))]
    cuts = [cuts[i] for i in sorted(rng.permutation(len(cuts))[: args.train_examples].tolist())]
    histories = [list(data.train[u][:k]) for u, k in cuts]
    lists = {"train": [], "valid": []}
    for (u, k), history, top, scores in zip(cuts, histories, top_candidates(retriever, histories),
                                            masked_scores(retriever, histories)):
        target, codes = int(data.train[u][k]), [int(c) for c in top]
        natural = target in codes
        if not natural:
            codes[-1] = target
        lists["train"].append((history, codes, target, scores, natural))
    valid_hist, valid_targets = data.inputs("valid")
    valid_top, valid_scores = top_candidates(retriever, valid_hist), masked_scores(retriever, valid_hist)
    hit = [j for j in range(len(valid_targets)) if valid_targets[j] in valid_top[j]]
    for j in sorted(np.random.default_rng(args.seed).permutation(hit)[: args.valid_users].tolist()):
        lists["valid"].append((list(valid_hist[j]), [int(c) for c in valid_top[j]], int(valid_targets[j]),
                               valid_scores[j], True))

    model_path = str(resolve_model(args.model))
    tok = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True, use_safetensors=True).eval()
    if max(args.layers) > model.config.num_hidden_layers:
        raise SystemExit(f"--layers: the model has {model.config.num_hidden_layers} layers")

    sets = {}
    for name, rows in lists.items():
        hidden, numbers, retr, target, natural = [], [], [], [], []
        for n, (history, codes, t, scores, is_natural) in enumerate(rows):
            shown_items = [with_facts(items(c), facts(c, history)) if args.facts else items(c) for c in codes]
            prompt, shown = ranker.build_prompt("", [items(h) for h in history], shown_items)
            code_of = {items(c).id: c for c in codes}
            order = [code_of[item_id] for _, item_id in shown]
            enc = tok(prompt.text, return_offsets_mapping=True, add_special_tokens=False)
            with torch.inference_mode():
                out = model.model(input_ids=torch.tensor([enc["input_ids"]]), output_hidden_states=True)
            ends = option_ends(prompt.text, enc["offset_mapping"])
            states = [out.last_hidden_state[0, ends] if layer == model.config.num_hidden_layers
                      else out.hidden_states[layer][0, ends] for layer in args.layers]
            hidden.append(torch.cat(states, -1).float().numpy().astype(np.float16))
            numbers.append([numeric_facts(c, history) for c in order])
            retr.append(np.asarray(scores)[order])
            target.append(order.index(t))
            natural.append(is_natural)
            if n % 50 == 0:
                print(f"{name}: {n}/{len(rows)} prompts, {time.perf_counter() - started:.0f} s", flush=True)
        sets[name] = {"hidden": np.stack(hidden), "facts": np.asarray(numbers, dtype=np.float64),
                      "retriever": np.stack(retr).astype(np.float64), "target": np.asarray(target),
                      "natural": np.asarray(natural)}
    print(f"natural training cut points: {int(sets['train']['natural'].sum())} of {len(lists['train'])}", flush=True)
    rows = head_table(sets["train"], sets["valid"], args.layers)
    write_report(args, {"natural_train": int(sets["train"]["natural"].sum()), "valid_users": len(lists["valid"]),
                        "rows": rows, "seconds": round(time.perf_counter() - started, 1)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
