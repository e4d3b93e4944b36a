"""``llmrec train``: interaction logs in a workspace → ranking examples → a LoRA adapter folder with a manifest."""

from __future__ import annotations

from pathlib import Path

from llmrec.config import LLMRecConfig
from llmrec.workspace import Workspace


class ChatFormatter:
    """The base model's chat template without loading its weights (prompts must match serving byte for byte)."""

    def __init__(self, base: str):
        from transformers import AutoTokenizer

        from llmrec.llm.registry import resolve_model

        self.tokenizer = AutoTokenizer.from_pretrained(str(resolve_model(base)), local_files_only=True)

    def chat(self, messages: list[dict]) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        from llmrec.prompts import plain_chat

        return plain_chat(messages)


def train_adapter(workspace: str | Path, out: str | Path, base: str | None = None,
                  interactions: str | Path | None = None, epochs: int | None = None, resume: bool = False,
                  config: LLMRecConfig | None = None, progress=None, log=print, overwrite: bool = False) -> dict:
    """Train a LoRA adapter for the ranker on a workspace's interaction log; returns the adapter's manifest."""
    from llmrec.prompts import default_library
    from llmrec.ranking.ranker import LLMRanker
    from llmrec.recommender import Recommender
    from llmrec.training.examples import examples_hash, workspace_examples
    from llmrec.training.trainer import AdapterTrainer

    ws = Workspace(workspace)
    config = (config or ws.load_config()).model_copy(deep=True)
    if epochs is not None:
        config.train.epochs = epochs
    base = base if base and base != "default" else config.ranker.model
    config.ranker.model = base
    if interactions is not None:
        from llmrec.catalog.readers import read_interactions

        result = read_interactions(interactions)
        for problem in result.problems[:20]:
            log(f"skipped: {problem}")
        if len(result.problems) > 20:
            log(f"skipped {len(result.problems) - 20} more rows of {interactions}")
        with ws.write_lock():  # an ingest may be adding rows at the same moment
            added = ws.add_interactions(result.interactions)
        log(f"added {added} interactions from {interactions}"
            + (f" ({len(result.problems)} rows skipped)" if result.problems else ""))
    from llmrec.retrieval.retriever import CandidateRetriever

    rec = Recommender(ws, config)
    # Hard negatives come from the text retriever only. The workspace's collaborative model was fitted on these same
    # sequences, so it has learned every training target as a next item: candidates drawn with it would contain the
    # target far more often (and higher) than at serving time, and the adapter would learn an easier task.
    retriever = CandidateRetriever(rec.text_collection(), rec.embedder, config.retrieval)
    ranker = LLMRanker(ChatFormatter(base), default_library(), config.ranker)
    tc = config.train
    # The collaborative model does give each option its evidence level, as it will at serving. It was fitted on these
    # same logs, so here the level is more reliable than for tomorrow's requests and the adapter may trust it more
    # than it should; eval/ranker_protocol.py measures the effect on held-out items.
    train, valid = workspace_examples(ws, retriever, ranker, config.retrieval.n_candidates, tc.examples_per_user,
                                      tc.validation_users, progress or (lambda it, total, desc: it),
                                      collab=rec.retriever.collab)
    if tc.max_train_examples:
        train = train[: tc.max_train_examples]
    log(f"{len(train)} training and {len(valid)} validation examples")
    trainer = AdapterTrainer(config, base, Path(out), progress=progress, log=log, overwrite=overwrite)
    return trainer.train(train, valid, examples_hash(train + valid), resume=resume)
