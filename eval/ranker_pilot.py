"""Pilot a ranker-training variant in about 30 minutes: does a LoRA on the base model move off uniform at all?

    nice -n 5 python eval/ranker_pilot.py [--scoring letter|suffix|readout] [--facts] [--teacher 0.5]
        [--examples 300] [--random-negatives 10] [--natural] [--card-chars 100] [--lr 1e-3] [--accum 4]
        [--lora-layers 8] [--eval-every 150] [--data PATH] [--out FILE.json]

Why it exists: a full ``ranker_protocol.py --train`` run costs 75 minutes on the 2-core machine and ends in one number;
this prints the first-seen training loss per 50 examples (uniform over 20 options is ln 20 = 3.00) and, every
``--eval-every`` examples, NDCG@10 on validation users' retriever top-20 (beside the retriever's own order) and on
sampled-20 (target + 19 never-seen items; random is 0.227). The variants recorded in ``eval/README.md`` (ranker
section) came from it:

- ``--scoring letter``: the served ranker's head, the logprob of each option's letter after "Answer:";
- ``--scoring suffix``: the same, with each option's letter written *after* its text (``<<<...>>> = option K``), so
  the letter token has already read its option when the answer position looks it up;
- ``--scoring readout``: log P(" Yes") at the last token of each option, all 20 read from one forward pass;
- ``--facts``: each option's summary starts with facts computed from the history and the log
  ("Fit: 8/10 genre match, 3 years off, popular");
- ``--teacher A``: soft targets, (1 - A)·one-hot(true item) + A·softmax(2·z) with z the retriever's standardised
  scores over the 20 options (distilling the collaborative retriever into the LLM);
- ``--random-negatives R``: R of the 19 training negatives are random never-seen items (an easier signal), the rest
  the retriever's top picks;
- ``--natural``: only cut points whose next item is already in the retriever's top-20 (the case the ranker can change
  at serving), instead of swapping the missed item in for the 20th candidate (``ranker_probe.py`` shows why);
- ``--card-chars N``: shorter option summaries, so more examples fit in the same CPU time.

Training examples are cut points inside the training sequences (never a validation or test item), as in
``ranker_protocol.py``. Nothing here is product code: a variant that learns goes into ``llmrec/training`` and is then
measured end to end by ``ranker_protocol.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "eval"))

import numpy as np  # noqa: E402

from _retriever_cache import fitted_sasrec  # noqa: E402
from llmrec.config import RankerConfig, SequentialConfig  # noqa: E402
from llmrec.evaluation.protocols import SequenceDataset, build_dataset, masked_scores  # noqa: E402
from llmrec.training.trainer import ndcg_at_10  # noqa: E402
from ranker_protocol import DATASET, Items, top_candidates  # noqa: E402

OPTIONS = 20
HISTORY_FOR_FACTS = 10
VERBALIZER = " Yes"


def add_setup_arguments(p: argparse.ArgumentParser, out: str) -> None:
    """The options every pilot and probe shares (what ``load_setup`` reads, and ``--out``)."""
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--data", type=Path, help="ml-latest-small folder; default ../shared/data/ml-latest-small")
    p.add_argument("--cache", type=Path, help="fitted retriever cache; default $LLMREC_CACHE/eval")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, help=out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scoring", choices=("letter", "suffix", "readout"), default="letter")
    p.add_argument("--facts", action="store_true", help="start each option with computed fit facts")
    p.add_argument("--teacher", type=float, default=0.0, help="weight of the retriever's soft targets (0-1)")
    p.add_argument("--examples", type=int, default=300, help="training examples (one pass)")
    p.add_argument("--random-negatives", type=int, default=10, help="of the 19 training negatives")
    p.add_argument("--natural", action="store_true",
                   help="train only on cut points whose next item is in the retriever's top-20 (as at serving), "
                        "instead of swapping it in for the 20th candidate")
    p.add_argument("--card-chars", type=int, default=100,
                   help="characters of each option's card summary (the served default 100; 20 halves the prompt)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--accum", type=int, default=4, help="examples per optimiser step")
    p.add_argument("--lora-layers", type=int, default=8, help="LoRA r8 on q/k/v/o of the last N layers")
    p.add_argument("--eval-every", type=int, default=150, help="examples between evaluations (and at the end)")
    p.add_argument("--valid-users", type=int, default=60, help="validation users whose item is in the top-20")
    p.add_argument("--sampled-users", type=int, default=100)
    add_setup_arguments(p, out="write the curve and evaluations here as JSON")
    args = p.parse_args(argv)
    if not 0 <= args.teacher <= 1:
        p.error("--teacher must be between 0 and 1")
    if not 20 <= args.card_chars <= 2000:
        p.error("--card-chars must be between 20 and 2000 (the ranker's own limits)")
    if not 0 <= args.random_negatives <= OPTIONS - 1:
        p.error(f"--random-negatives must be between 0 and {OPTIONS - 1}")
    return args


# ---- facts ----------------------------------------------------------------------------------------------------------

def _field(item, name: str) -> str:
    return next((str(v) for k, v in item.item.fields.items() if k.lower() == name), "")


def genres(item) -> set[str]:
    return {g.strip() for g in re.split(r"[,|]", _field(item, "genres")) if g.strip()}


def year(item) -> int | None:
    m = re.search(r"\d{4}", _field(item, "year"))
    return int(m.group()) if m else None


class Facts:
    """The fit facts of a candidate for a history: genre overlap with the last 10 items, distance from their mean
    year, and a popularity word from the candidate's training-log count (quantiles over the catalog)."""

    def __init__(self, items: Items, data: SequenceDataset):
        self.items = items
        self.pop = np.zeros(data.n_items)
        for seq in data.train:
            np.add.at(self.pop, np.asarray(seq, dtype=np.int64), 1)
        self.cuts = np.quantile(self.pop[self.pop > 0], [0.5, 0.8, 0.95]) if (self.pop > 0).any() else [0, 0, 0]

    def __call__(self, code: int, history: list[int]) -> str:
        last = [self.items(h) for h in history[-HISTORY_FOR_FACTS:]]
        g = genres(self.items(code))
        share = sum(1 for h in last if genres(h) & g)
        years = [y for y in (year(h) for h in last) if y]
        y = year(self.items(code))
        gap = "unknown" if not years or y is None else str(int(abs(y - float(np.mean(years)))))
        p = self.pop[code]
        word = ("rare" if p < self.cuts[0] else "known" if p < self.cuts[1] else "popular" if p < self.cuts[2]
                else "very popular")
        return f"Fit: {share}/{len(last)} genre match, {gap} years off, {word}"


def with_facts(item, facts: str):
    """The item with ``facts`` as the first line after its title, so the option summary starts with them."""
    lines = item.card.splitlines()
    return replace(item, card="\n".join([lines[0], facts, *lines[1:]]))


def suffix_letters(prompt: str) -> str:
    """``K. <<<text>>>`` lines become ``- <<<text>>> = option K``."""
    return re.sub(r"^([A-Za-z])\. (<<<.*>>>)$", r"- \2 = option \1", prompt, flags=re.M)


# ---- shared with ranker_probe.py -------------------------------------------------------------------------------------

class Setup(NamedTuple):
    """ml-latest-small split by LlamaRec's protocol, the cached SASRec retriever, fit facts and the served ranker's
    prompt builder: what every pilot and probe starts from. (A NamedTuple, not a dataclass: the tests load this
    script from its file, outside sys.modules, where dataclasses cannot resolve their module.)"""

    data: SequenceDataset
    items: Items
    retriever: object
    facts: Facts
    ranker: object


def load_setup(args: argparse.Namespace, card_chars: int = 100) -> Setup:
    import torch

    from llmrec.catalog.movielens import read_movielens
    from llmrec.prompts import default_library
    from llmrec.ranking.ranker import LLMRanker
    from llmrec.training.run import ChatFormatter

    torch.set_num_threads(args.threads)
    path = args.data or REPO.parent / "shared" / "data" / DATASET
    if not path.exists():
        raise SystemExit(f"data not found: {path} does not exist; pass --data PATH (an ml-latest-small folder)")
    catalog, interactions = read_movielens(path)
    data = build_dataset(interactions, tie_break="item")
    items = Items(catalog, data)
    retriever, _ = fitted_sasrec(data, SequentialConfig(architecture="sasrec", dropout=0.3).model_copy(
        update={"seed": args.seed}), args.cache, log=lambda s: print(s, file=sys.stderr))
    ranker = LLMRanker(ChatFormatter(args.model), default_library(),
                       RankerConfig(model=args.model, retrieval_prior=0.0, seed=args.seed, history_in_prompt=10,
                                    card_chars_in_prompt=card_chars))
    return Setup(data, items, retriever, Facts(items, data), ranker)


def option_ends(prompt: str, offsets) -> list[int]:
    """Token index of the last '>' of each option's '>>>' (``offsets``: the tokenizer's offset mapping)."""
    ends, pos = [], prompt.index("Options:\n")
    while (k := prompt.find(">>>\n", pos)) >= 0:
        ends.append(next(i for i, (a, b) in enumerate(offsets) if a <= k + 2 < b))
        pos = k + 4
    return ends[-OPTIONS:]


def write_report(args: argparse.Namespace, report: dict) -> None:
    """``report`` with the arguments that produced it, as JSON at ``--out`` (if given)."""
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: str(v) if isinstance(v, Path) else v
                                                 for k, v in vars(args).items()}, **report}, indent=2))


# ---- the pilot ------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmrec.models import resolve_model

    started = time.perf_counter()
    setup = load_setup(args, args.card_chars)
    data, items, retriever, facts, ranker = setup.data, setup.items, setup.retriever, setup.facts, setup.ranker
    rng = np.random.default_rng(args.seed)
    catalog_codes = np.arange(data.n_items)

    def example(history: list[int], codes: list[int]) -> tuple[str, list[int]]:
        """The prompt and the item codes in shown order."""
        shown_items = [with_facts(items(c), facts(c, history)) if args.facts else items(c) for c in codes]
        prompt, shown = ranker.build_prompt("", [items(h) for h in history], shown_items)
        code_of = {items(c).id: c for c in codes}
        text = suffix_letters(prompt.text) if args.scoring == "suffix" else prompt.text
        return text, [code_of[item_id] for _, item_id in shown]

    def never_seen(history: list[int], exclude: list[int], n: int) -> list[int]:
        seen, out = set(history) | set(exclude), []
        while len(out) < n:
            c = int(rng.choice(catalog_codes))
            if c not in seen:
                seen.add(c)
                out.append(c)
        return out

    # Training: cut points inside the training sequences (last 4 per user), a seeded sample of them.
    # The retriever's top-20 for every cut point, once (a few seconds; --natural filters on it).
    cuts = [(u, k) for u, seq in enumerate(data.train) for k in range(max(1, len(seq) - 4), len(seq))]
    histories = [list(data.train[u][:k]) for u, k in cuts]
    tops = top_candidates(retriever, histories)
    if args.natural:
        keep = [j for j, (u, k) in enumerate(cuts) if int(data.train[u][k]) in set(tops[j].tolist())]
        cuts, histories, tops = [cuts[j] for j in keep], [histories[j] for j in keep], tops[keep]
        print(f"natural: {len(cuts)} cut points have their next item in the top-{OPTIONS}", flush=True)
    pick = sorted(rng.permutation(len(cuts))[: args.examples].tolist())
    cuts, histories, tops = [cuts[j] for j in pick], [histories[j] for j in pick], tops[pick]
    teacher_scores = masked_scores(retriever, histories) if args.teacher > 0 else None
    train = []
    for j, ((u, k), history, top) in enumerate(zip(cuts, histories, tops)):
        target = int(data.train[u][k])
        hard = [int(c) for c in top if int(c) != target][: OPTIONS - 1 - args.random_negatives]
        codes = hard + never_seen(data.train[u], hard + [target], OPTIONS - 1 - len(hard)) + [target]
        prompt, shown = example(history, codes)
        soft = np.zeros(OPTIONS)
        if teacher_scores is not None:
            z = teacher_scores[j][shown]
            z = (z - z.mean()) / (z.std() + 1e-6)
            soft = np.exp(2 * z - (2 * z).max())
            soft /= soft.sum()
        onehot = np.eye(OPTIONS)[shown.index(target)]
        train.append((prompt, shown.index(target), (1 - args.teacher) * onehot + args.teacher * soft))

    valid_hist, valid_targets = data.inputs("valid")
    valid_top = top_candidates(retriever, valid_hist)
    hit = [j for j in range(len(valid_targets)) if valid_targets[j] in valid_top[j]]
    rows = sorted(np.random.default_rng(args.seed).permutation(hit)[: args.valid_users].tolist())
    valid_hard = []
    for j in rows:
        codes = [int(c) for c in valid_top[j]]
        prompt, shown = example(list(valid_hist[j]), codes)
        valid_hard.append((prompt, shown.index(int(valid_targets[j])), codes.index(int(valid_targets[j]))))
    srows = sorted(np.random.default_rng(args.seed + 1).permutation(len(valid_targets))[: args.sampled_users].tolist())
    sampled = []
    for j in srows:
        target = int(valid_targets[j])
        prompt, shown = example(list(valid_hist[j]), never_seen(valid_hist[j], [target], OPTIONS - 1) + [target])
        sampled.append((prompt, shown.index(target)))

    model_path = str(resolve_model(args.model))
    tok = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True, use_safetensors=True)
    letter_ids = [tok.encode(" " + chr(65 + i), add_special_tokens=False)[0] for i in range(OPTIONS)]
    yes_id = tok.encode(VERBALIZER, add_special_tokens=False)[-1]

    def scores(prompt: str):
        enc = tok(prompt, return_offsets_mapping=True, add_special_tokens=False)
        ids = torch.tensor([enc["input_ids"]])
        hidden = model.get_base_model().model(input_ids=ids).last_hidden_state[0]
        if args.scoring == "readout":
            logits = model.get_base_model().lm_head(hidden[option_ends(prompt, enc["offset_mapping"])]).float()
            return torch.log_softmax(logits, -1)[:, yes_id]
        return torch.log_softmax(model.get_base_model().lm_head(hidden[-1]).float(), -1)[letter_ids]

    def evaluate(seen: int) -> dict:
        model.eval()
        with torch.inference_mode():
            hard = [int((s > s[t]).sum()) for s, t in ((scores(p).numpy(), t) for p, t, _ in valid_hard)]
            samp = [int((s > s[t]).sum()) for s, t in ((scores(p).numpy(), t) for p, t in sampled)]
        model.train()
        out = {"examples": seen, "top20_ndcg@10": float(np.mean([ndcg_at_10(r) for r in hard])) if hard else None,
               "retriever_top20_ndcg@10": float(np.mean([ndcg_at_10(r) for _, _, r in valid_hard])) if hard else None,
               "sampled20_ndcg@10": float(np.mean([ndcg_at_10(r) for r in samp])) if samp else None,
               "sampled20_ndcg@1": float(np.mean([r == 0 for r in samp])) if samp else None}
        print("eval", json.dumps(out), flush=True)
        return out

    torch.manual_seed(args.seed)
    n = model.config.num_hidden_layers
    model = get_peft_model(model, LoraConfig(
        task_type="CAUSAL_LM", r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["q_proj", "k_proj", "v_proj",
                                                                                       "o_proj"],
        layers_to_transform=list(range(n - min(args.lora_layers, n), n))))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    model.train()
    losses, curve, evals, t0 = [], [], [], time.perf_counter()
    for i, (prompt, t, target) in enumerate(train, start=1):
        logp = torch.log_softmax(scores(prompt), -1)
        loss = -(torch.tensor(target, dtype=torch.float32) * logp).sum()
        (loss / args.accum).backward()
        losses.append(-logp[t].item())  # first-seen CE on the true item, whatever the target mix
        if i % args.accum == 0 or i == len(train):
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if i % 50 == 0 or i == len(train):
            curve.append({"examples": i, "loss": float(np.mean(losses[-50:]))})
            print(f"loss {curve[-1]['loss']:.3f} at {i} ({(time.perf_counter() - t0) / i:.2f} s/example)", flush=True)
        if i % args.eval_every == 0 or i == len(train):
            evals.append(evaluate(i))
    write_report(args, {"uniform_loss": math.log(OPTIONS), "curve": curve, "evals": evals,
                        "seconds": round(time.perf_counter() - started, 1),
                        "example_prompt": train[0][0] if train else ""})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
