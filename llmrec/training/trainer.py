"""LoRA training of the ranker on ranking examples: SFT on the target option letter.

Resumable to the same result: the data order is a pure function of (seed, epoch), and a checkpoint holds the LoRA
weights, the optimiser state, the torch RNG state and the position in the data, all in safetensors/JSON (nothing is
unpickled). The best adapter by validation NDCG@10 is what ends up in the output folder, with its manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from llmrec.config import LLMRecConfig
from llmrec.errors import TrainingError
from llmrec.evaluation.metrics import ndcg_at_k, recall_at_k
from llmrec.evaluation.provenance import versions
from llmrec.llm.cache import file_digest
from llmrec.llm.registry import model_id, resolve_model
from llmrec.llm.adapters import AdapterManifest
from llmrec.training.examples import RankingExample


@dataclass
class TrainState:
    """Everything beyond tensors needed to continue a run exactly."""

    position: int = 0             # examples consumed so far (across epochs)
    step: int = 0                 # optimiser steps taken
    best_ndcg: float = -1.0
    best_step: int = -1
    bad_evals: int = 0
    evals: list[dict] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    data_hash: str = ""           # what the run trains on: a checkpoint only continues the run that made it
    config_hash: str = ""


CHECKPOINT_FOLDERS = ("checkpoint", ".checkpoint-tmp", ".checkpoint-old")


def find_checkpoint(out: Path) -> Path | None:
    """A complete checkpoint folder in ``out`` (one holding ``state.json``, which is written last), if any; any of
    them continues the run to the same result, since the data order is a function of the seed."""
    for folder in (Path(out) / name for name in CHECKPOINT_FOLDERS):
        if (folder / "state.json").is_file():
            return folder
    return None


def has_unfinished_run(out: Path) -> bool:
    """Whether ``out`` holds a complete checkpoint of a run that has not finished (``--resume`` continues it)."""
    return find_checkpoint(out) is not None


def _write_durably(path: Path, text: str) -> None:
    """Write beside, fsync, rename over: a kill or power cut leaves the old file or the new one, never a torn one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _config_hash(config: LLMRecConfig, base: str) -> str:
    """What shapes a run besides its examples: the base model and the ranker and training settings."""
    import hashlib

    blob = json.dumps([base, config.ranker.model_dump(mode="json"), config.train.model_dump(mode="json")],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class AdapterTrainer:
    def __init__(self, config: LLMRecConfig, base: str, out: Path, progress=None, log=print,
                 overwrite: bool = False):
        self.config = config
        self.train_config = config.train
        self.base = base
        self.out = Path(out)
        self.ckpt = self.out / CHECKPOINT_FOLDERS[0]
        self.progress = progress
        self.log = log
        self.training_data: dict | None = None
        self.overwrite = overwrite  # replace a finished adapter already in ``out``

    # ---- model -------------------------------------------------------------------------------------------------
    def _load(self):
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tc = self.train_config
        path = resolve_model(self.base)
        self.base_path = path
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        kwargs: dict = {"local_files_only": True, "use_safetensors": True, "dtype": getattr(torch, tc.dtype)}
        if tc.quantize_4bit:
            if not torch.cuda.is_available():
                raise TrainingError("QLoRA (train.quantize_4bit) needs a CUDA GPU: bitsandbytes' 4-bit backward is "
                                    "not reliable on CPU; train fp32/bf16 LoRA here instead")
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                               bnb_4bit_compute_dtype=torch.bfloat16)
            kwargs["device_map"] = {"": 0}
        model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
        if tc.quantize_4bit:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model)
        torch.manual_seed(tc.seed)  # LoRA A init is random: seeded so runs are reproducible
        layers: dict = {}
        if tc.lora_layers is not None:
            n = model.config.num_hidden_layers
            if tc.lora_layers > n:
                raise TrainingError(f"train.lora_layers = {tc.lora_layers} but {self.base} has {n} layers")
            layers = {"layers_to_transform": list(range(n - tc.lora_layers, n))}
        lora = LoraConfig(task_type="CAUSAL_LM", r=tc.lora_r, lora_alpha=tc.lora_alpha, lora_dropout=tc.lora_dropout,
                          target_modules=list(tc.target_modules), **layers)
        # autocast_adapter_dtype: LoRA weights in float32 over a bfloat16 base, so small updates are not rounded away
        self.model = get_peft_model(model, lora, autocast_adapter_dtype=True)
        self.tokenizer = tokenizer
        self.device = next(self.model.parameters()).device
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=tc.learning_rate, weight_decay=0.0)

    def _letter_id(self, letter: str) -> int:
        return self.tokenizer.encode(" " + letter, add_special_tokens=False)[0]

    def _prior(self, e: RankingExample):
        """-w·log(1 + place) per letter (train.retrieval_prior), or None when the adapter trains on letters alone."""
        import torch

        w = self.train_config.retrieval_prior
        if not w:
            return None
        if len(e.list_ranks) != len(e.letters):
            raise TrainingError("train.retrieval_prior needs each example's place in the retrieved list (examples "
                                "built by llmrec.training.examples carry it)")
        from llmrec.ranking.ranker import retrieval_prior

        return torch.tensor([retrieval_prior(place, w) for place in e.list_ranks], dtype=torch.float32,
                            device=self.device)

    def option_scores(self, e: RankingExample):
        """Each shown option's score as the ranker serves it, in ``e.letters`` order: its letter logit (the
        letters' log-softmax up to a constant) plus the retrieval prior when the adapter trains as a residual.
        Listwise: the loss is a softmax over these alone, the quantity serving ranks by. Over the whole vocabulary
        the first hundred examples only teach "answer with some letter" (loss 5.6 -> ln 20)."""
        import torch

        letters = torch.tensor([self._letter_id(x) for x in e.letters], device=self.device)
        scores = self._logits(e.prompt)[letters]
        prior = self._prior(e)
        return scores if prior is None else scores + prior

    def _logits(self, prompt: str):
        enc = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
        return self.model(**enc, logits_to_keep=1).logits[0, -1].float()  # (V,)

    # ---- checkpoints -------------------------------------------------------------------------------------------
    def _save_checkpoint(self, state: TrainState) -> None:
        import torch
        from peft import get_peft_model_state_dict
        from safetensors.torch import save_file

        tmp, old = self.out / ".checkpoint-tmp", self.out / ".checkpoint-old"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        weights = {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(self.model).items()}
        save_file(weights, str(tmp / "adapter.safetensors"))
        opt = self.optimizer.state_dict()
        tensors = {"rng": torch.get_rng_state()}
        for idx, st in opt["state"].items():
            for name, value in st.items():
                tensors[f"{idx}.{name}"] = (value if torch.is_tensor(value) else torch.tensor(value)).cpu()
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        _write_durably(tmp / "state.json", json.dumps(state.__dict__))  # last: a folder with it is complete
        # Renames only, so at every instant one complete checkpoint exists under one of the three names, and
        # ``find_checkpoint`` finds it whatever moment a kill hits.
        shutil.rmtree(old, ignore_errors=True)
        if self.ckpt.exists():
            os.replace(self.ckpt, old)
        os.replace(tmp, self.ckpt)
        shutil.rmtree(old, ignore_errors=True)

    def _discard_checkpoints(self) -> None:
        for name in CHECKPOINT_FOLDERS:
            shutil.rmtree(self.out / name, ignore_errors=True)

    def _load_checkpoint(self, folder: Path) -> TrainState:
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(self.model, load_file(str(folder / "adapter.safetensors")))
        tensors = load_file(str(folder / "optimizer.safetensors"))
        torch.set_rng_state(tensors.pop("rng"))
        opt = self.optimizer.state_dict()
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = value
        opt["state"] = state
        self.optimizer.load_state_dict(opt)
        return TrainState(**json.loads((folder / "state.json").read_text()))

    # ---- evaluation --------------------------------------------------------------------------------------------
    def evaluate(self, examples: list[RankingExample]) -> dict:
        import torch

        self.model.eval()
        ranks = []
        with torch.inference_mode():
            for e in examples:
                scores = self.option_scores(e).tolist()
                target = scores[e.letters.index(e.target_letter)]
                ranks.append(sum(s > target for s in scores))  # pessimistic ties are impossible with float logprobs
        self.model.train()
        ranks = np.array(ranks, dtype=np.int64)
        return {"ndcg@10": ndcg_at_k(ranks, 10), "hit@1": recall_at_k(ranks, 1), "n": len(examples)}

    def _save_adapter(self, state: TrainState, data_hash: str, train_n: int, valid_n: int, final: bool) -> None:
        tmp = self.out / ".adapter-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(str(tmp), safe_serialization=True)
        manifest = AdapterManifest(
            base_model=model_id(self.base), base_model_path=str(self.base_path),
            base_model_sha256=file_digest(min(self.base_path.glob("*.safetensors")), 1 << 24),  # first shard
            data_hash=data_hash, config=self.config.model_dump(mode="json"),
            metrics={"best_valid_ndcg@10": state.best_ndcg, "best_step": state.best_step, "evals": state.evals,
                     "train_examples": train_n, "valid_examples": valid_n, "steps": state.step, "finished": final},
            versions=versions(("torch", "transformers", "peft")),
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            training_data=self.training_data or None,
        )
        _write_durably(tmp / "manifest.json", manifest.to_json())
        # The manifest goes last: until it names this step, a kill leaves the previous manifest, and an unfinished
        # run (its checkpoint still there) is redone from the checkpoint by --resume.
        for name in ("adapter_config.json", "adapter_model.safetensors", "manifest.json"):
            os.replace(tmp / name, self.out / name)
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- the loop ----------------------------------------------------------------------------------------------
    def train(self, train: list[RankingExample], valid: list[RankingExample], data_hash: str,
              resume: bool = False, training_data: dict | None = None) -> dict:
        """Train, validate every ``eval_every`` steps, keep the best adapter; ``training_data`` (where the examples
        came from: dataset, retriever, split) goes into the manifest as is."""
        if not train:
            raise TrainingError("no training examples: users need at least 3 interactions with catalog items")
        from filelock import FileLock, Timeout

        self.out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.out / ".train.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise TrainingError(f"another llmrec train is writing to {self.out}; wait for it or choose another "
                                "--out") from None
        try:
            return self._train_locked(train, valid, data_hash, resume, training_data)
        finally:
            lock.release()

    def _train_locked(self, train, valid, data_hash, resume, training_data) -> dict:
        import torch

        tc = self.train_config
        self.training_data = training_data
        config_hash = _config_hash(self.config, self.base)
        if self.overwrite and not resume:
            self._discard_checkpoints()
        checkpoint = find_checkpoint(self.out)
        if checkpoint is not None and not resume:
            raise TrainingError(f"{self.out} holds an unfinished run; pass --resume to continue it, --force to "
                                "discard it, or choose another --out")
        if checkpoint is None and not resume and (self.out / "manifest.json").is_file() and not self.overwrite:
            raise TrainingError(f"{self.out} already holds a trained adapter; choose another --out, or pass "
                                "--force to replace it")
        if checkpoint is not None:  # checked before the model loads: a refusal should be quick
            made = json.loads((checkpoint / "state.json").read_text())
            made = (made.get("data_hash", ""), made.get("config_hash", ""))
            if made[0] and made != (data_hash, config_hash):
                what = "training examples" if made[0] != data_hash else "base model or training config"
                raise TrainingError(f"the checkpoint in {self.out} was made with other {what}, so continuing it "
                                    "would not give the run it started; start again with --force and without "
                                    "--resume (or restore what changed)")
        self._load()
        state = TrainState(data_hash=data_hash, config_hash=config_hash)
        if checkpoint is not None:
            state = self._load_checkpoint(checkpoint)
            self.log(f"resuming at step {state.step} ({state.position} examples done)")
        elif resume:
            self.log("no checkpoint to resume from; starting fresh")
        total = len(train) * tc.epochs
        orders = {}
        self.model.train()
        bar = self.progress(range(state.position, total), total - state.position, "training") if self.progress \
            else range(state.position, total)
        t0, done_here, running = time.perf_counter(), 0, []
        stop = False
        for position in bar:
            epoch, j = divmod(position, len(train))
            if epoch not in orders:
                orders[epoch] = np.random.default_rng(tc.seed + epoch).permutation(len(train))
            e = train[int(orders[epoch][j])]
            target = torch.tensor(e.letters.index(e.target_letter), device=self.device)
            loss = torch.nn.functional.cross_entropy(self.option_scores(e)[None], target[None])
            (loss / tc.grad_accum).backward()
            running.append(loss.item())
            state.position = position + 1
            done_here += 1
            if state.position % tc.grad_accum == 0 or state.position == total:
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                state.step += 1
                state.losses.append(float(np.mean(running)))
                running = []
                if hasattr(bar, "set_postfix"):
                    rate = done_here / (time.perf_counter() - t0)
                    bar.set_postfix(loss=f"{state.losses[-1]:.3f}", ex_s=f"{rate:.2f}")
                if state.step % tc.eval_every == 0 or state.position == total:
                    stop = self._validate(state, valid, data_hash, len(train))
                if state.step % tc.checkpoint_every == 0 or state.position == total or stop:
                    self._save_checkpoint(state)
                if stop:
                    self.log(f"early stop at step {state.step}: no gain in {tc.patience} validations")
                    break
        if state.best_step < 0:  # no validation ran (tiny runs): keep the final weights
            self._save_adapter(state, data_hash, len(train), len(valid), final=True)
        self._finalise_manifest(state, final=True)
        self._discard_checkpoints()  # finished: nothing to resume
        return json.loads((self.out / "manifest.json").read_text())

    def _validate(self, state: TrainState, valid, data_hash, train_n) -> bool:
        metrics = self.evaluate(valid) if valid else {"ndcg@10": 0.0, "hit@1": 0.0, "n": 0}
        metrics["step"] = state.step
        state.evals.append(metrics)
        self.log(f"step {state.step}: valid NDCG@10 {metrics['ndcg@10']:.4f} (n={metrics['n']})")
        if metrics["ndcg@10"] > state.best_ndcg:
            state.best_ndcg, state.best_step, state.bad_evals = metrics["ndcg@10"], state.step, 0
            self._save_adapter(state, data_hash, train_n, len(valid), final=False)
            return False
        state.bad_evals += 1
        return state.bad_evals >= self.train_config.patience

    def _finalise_manifest(self, state: TrainState, final: bool) -> None:
        """The saved weights are the best step's; the manifest also gets the whole run's validation curve."""
        path = self.out / "manifest.json"
        manifest = AdapterManifest.model_validate_json(path.read_text())
        manifest.metrics.update({"finished": final, "evals": state.evals, "steps_run": state.step})
        _write_durably(path, manifest.to_json())
