"""The LLM ranker on the LlamaRec protocol: re-rank the SASRec retriever's top-20, base model vs a LoRA adapter.

Modules: ``run`` (options and the run), ``scoring`` (letter log-probabilities, the retrieval prior, table rows),
``report`` (Markdown); candidates and the training examples come from ``llmrec.evaluation.candidates`` and the one
example builder ``llmrec train`` uses (``llmrec.training.examples``).

Protocol (LlamaRec's, DESIGN.md "Protocols"): ml-latest-small, 5-core, leave-one-out with ties by item id. The
retriever is llmrec's SASRec fitted on the training sequences with validation early stopping (the same model and
config as the LlamaRec protocol's ``sasrec`` row; cached on disk, see ``llmrec.evaluation.retriever_cache``). For
each test user the ranker re-orders the retriever's top-20 (history masked); users whose target is outside the
top-20 keep the retriever's rank, so the full-ranking metrics of every ranker row are directly comparable with the
retriever row.

``--train OUT`` first fine-tunes a LoRA adapter with llmrec's trainer (the one ``llmrec train`` runs) on examples
built from the same split, so nothing of the test split is seen:

- training examples: for each user, the last ``--examples-per-user`` cut points of the *training* sequence (never the
  validation or test item); candidates are the retriever's top-20 for the history before the cut (hard negatives, the
  lists the ranker will face), the true next item swapped in when the retriever missed it;
- validation: the validation item of ``--valid-users`` users whose validation target is in the retriever's top-20
  (the case the ranker can change); it drives early stopping and picks the retrieval-prior weight.

Collaborative evidence: each option carries the level at which a second collaborative model, EASE (fitted on the
training sequences, its λ and decay chosen on validation, as in the LlamaRec protocol), favours it against
the other options (``llmrec.ranking.ranker.evidence_levels``; a workspace shows its own collaborative model's rank
the same way). The letters are shuffled, so a ranker can only use it by reading it. Two rows with no LLM at all show
what the evidence alone is worth: EASE's own order inside the top-20, and the levels the prompt shows with ties in
the retriever's order.

Scores: a candidate's score is its letter log-probability plus ``-w·log(1 + retriever rank)`` (the served ranker's
``retrieval_prior``). Every model is reported at ``w = 0`` (the LLM alone, LlamaRec's setting) and at the weight that
maximised its validation NDCG@10 on the grid ``PRIOR_GRID``. Sampled-20 (target + 19 never-seen negatives, shuffled)
is reported at ``w = 0``. Ties count against the target everywhere.

Writes ``<out>/<dataset>-llamarec-ranker.{json,md}``; ``llmrec eval --ranker/--train-ranker`` and
``python eval/ranker_protocol.py`` run it.
"""
