"""The sequential model's training loop: windows of each sequence, length-bucketed batches, AdamW on a cosine
schedule, full-softmax next-item loss, and early stopping on validation NDCG@10 (for the pair, at the best mix).

Training uses full softmax cross-entropy over all items at every position, not SASRec's original one sampled
negative per position with binary cross-entropy. On MovieLens-sized catalogs the full softmax is affordable, and it
is what makes SASRec match or beat BERT4Rec (Klenitskiy & Vasilev, RecSys 2023). Reproducible from
``config.seed``; the global RNG is left as it was.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from llmrec.errors import TrainingError
from llmrec.evaluation.metrics import ndcg_at_k, target_ranks
from llmrec.retrieval.protocol import Holdout, holdout_ranks, masked_scores
from llmrec.retrieval.sequential.networks import is_pair, left_pad
from llmrec.retrieval.training_loop import EarlyStopping, flush_denormals, progress_bar

if TYPE_CHECKING:
    from llmrec.retrieval.sequential.model import SequentialRecommender

MIX_GRID = np.round(np.linspace(0.0, 1.0, 11), 2)  # LRU weights tried for the pair; SASRec gets 1 - w


def train(model: "SequentialRecommender", sequences: Sequence[Sequence[int]], valid: Holdout | None,
          progress: bool = False, on_epoch: Callable[[dict[str, float]], None] | None = None,
          stop_after: int | None = None) -> None:
    """Train ``model.network`` on ``sequences`` (codes, oldest first), early-stopping on ``valid``.

    With ``valid``, validation NDCG@10 (full ranking, history masked) is measured after every epoch; training stops
    after ``patience`` epochs without improvement and the best epoch's weights are kept. Without it, all ``epochs``
    run, or the first ``stop_after`` of them on the same learning-rate schedule (how a validated run is replayed on
    all data). Fills ``model.history`` (one record per epoch), ``model.metrics`` and ``model.data_hash``.
    """
    cfg, network = model.config, model.network
    samples = training_windows(sequences, cfg.max_len, model.n_items)
    if not samples:
        raise TrainingError("no training sequence has two or more items; nothing to learn from")
    model.data_hash = sequences_hash(sequences, model.item_ids)
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.AdamW(_parameter_groups(network, cfg.weight_decay), lr=cfg.lr)
    lengths = np.array([len(s) for s in samples])
    n_batches = math.ceil(len(samples) / cfg.batch_size)
    # Cosine decay to zero over the planned steps: late epochs settle instead of hopping between minima, which
    # on a 610-user validation set is the difference between a stable and a lucky early-stopping pick.
    total_steps = cfg.epochs * n_batches
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps)))
    stopping = EarlyStopping(cfg.patience)
    model.history = []
    bar = progress_bar(min(cfg.epochs, stop_after or cfg.epochs) * n_batches, progress, "sequential")
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]), flush_denormals():
        torch.manual_seed(cfg.seed + 1)  # dropout draws from the global RNG; fork_rng keeps that local
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            network.train()
            total, count = 0.0, 0
            for batch in _length_bucketed_batches(lengths, cfg.batch_size, generator):
                loss, n_targets = _step(network, optimizer, [samples[i] for i in batch])
                schedule.step()
                total += loss * n_targets
                count += n_targets
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss:.3f}", best_ndcg10=f"{stopping.best_score:.4f}")
            network.eval()
            record = {"epoch": epoch, "loss": total / max(count, 1), "seconds": time.perf_counter() - t0}
            if valid is not None:
                record["valid_ndcg10"] = validation_ndcg(model, valid)
            model.history.append(record)
            if on_epoch is not None:
                on_epoch(record)
            if valid is None:
                if stop_after is not None and epoch >= stop_after:
                    break
                continue
            if stopping.update(epoch, record["valid_ndcg10"], lambda: copy.deepcopy(network.state_dict())):
                break
    bar.close()
    if stopping.best_state is not None:
        network.load_state_dict(stopping.best_state)
    network.eval()
    model.metrics.update({"epochs_run": len(model.history), "train_seconds": time.perf_counter() - started,
                          "final_loss": model.history[-1]["loss"]})
    if valid is not None:
        model.metrics.update({"best_epoch": stopping.best_epoch, "valid_ndcg10": stopping.best_score})
        if is_pair(network):
            model.metrics["mix_lru"] = float(network.mix[0])  # SASRec's weight is 1 - mix_lru


def validation_ndcg(model: "SequentialRecommender", valid: Holdout) -> float:
    """Validation NDCG@10 (full ranking, history masked); for the pair, at the best mix, which it then keeps."""
    if not is_pair(model.network):
        return ndcg_at_k(holdout_ranks(model, valid), 10)
    histories, targets = valid.histories, valid.targets
    # Each member's logits once per user batch, then every mix on the grid as a weighted sum of them.
    ranks: list[list[np.ndarray]] = [[] for _ in MIX_GRID]
    for start in range(0, len(histories), 512):
        chunk, chunk_targets = histories[start:start + 512], targets[start:start + 512]
        members = []
        for index in (0, 1):
            with model.only_member(index):
                members.append(masked_scores(model, chunk))  # (B, I), history at -inf
        for j, w in enumerate(MIX_GRID):
            with np.errstate(invalid="ignore"):  # -inf * 0 on masked items stays masked below
                mixed = np.where(np.isneginf(members[0]), -np.inf, w * members[0] + (1 - w) * members[1])
            ranks[j].append(target_ranks(mixed, chunk_targets))
    scores = [ndcg_at_k(np.concatenate(r), 10) for r in ranks]
    best = int(np.argmax(scores))  # ties → the smaller LRU weight, deterministic
    model.network.mix.copy_(torch.tensor([MIX_GRID[best], 1.0 - MIX_GRID[best]]))
    return float(scores[best])


def training_windows(sequences: Sequence[Sequence[int]], max_len: int, n_items: int) -> list[np.ndarray]:
    """Cut each sequence into windows of at most ``max_len + 1`` codes (``max_len`` inputs, as many targets).

    Windows end at the sequence end and step back by ``max_len``, so every item is a target exactly once per
    epoch and the newest items always get full context. Codes are shifted by one (0 is padding).
    """
    span = max_len + 1
    windows = []
    for seq in sequences:
        seq = np.asarray(seq, dtype=np.int64)
        if seq.size and (seq.min() < 0 or seq.max() >= n_items):
            raise TrainingError(f"item code out of range [0, {n_items}) in a training sequence")
        end = len(seq)
        while end >= 2:
            start = max(0, end - span)
            windows.append(seq[start:end] + 1)
            end = start + 1  # the first item of this window is the last input of the previous one
            if start == 0:
                break
    return windows


def sequences_hash(sequences: Sequence[Sequence[int]], item_ids: Sequence[str]) -> str:
    """sha256 (16 hex digits) of the vocabulary and the coded sequences a model was trained on."""
    digest = hashlib.sha256(json.dumps(list(item_ids)).encode())
    for seq in sequences:
        digest.update(np.asarray(seq, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:16]


def _parameter_groups(network: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices and embeddings only; biases and LayerNorm gains keep their scale (BERT practice)."""
    decay, no_decay = [], []
    for _, parameter in network.named_parameters():
        (no_decay if parameter.ndim < 2 else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _step(network: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: list[np.ndarray]) -> tuple[float, int]:
    seqs = left_pad(batch)  # (B, T+1)
    loss, n_targets = network.loss(seqs[:, :-1], seqs[:, 1:])  # inputs, next items: (B, T) each
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(network.parameters(), 5.0)
    optimizer.step()
    return float(loss.detach()), n_targets


def _length_bucketed_batches(lengths: np.ndarray, batch_size: int, generator: torch.Generator) -> list[np.ndarray]:
    """Batches of similar-length windows, in random order: less padding than random batches, still shuffled.

    Lengths get uniform jitter of up to one batch's spread before sorting, so batch composition changes each epoch.
    """
    jitter = torch.rand(len(lengths), generator=generator).numpy() * 8.0
    order = np.argsort(lengths + jitter, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    permutation = torch.randperm(len(batches), generator=generator).numpy()
    return [batches[i] for i in permutation]
