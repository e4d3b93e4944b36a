"""Offline evaluation: ranking metrics, data splits and the published protocols (LlamaRec full ranking, sampled-20).

Ties in score are counted against the target everywhere (see ``metrics``); every model is scored through
``user_vectors @ item_vectors.T``, the computation a vector store performs (see ``protocols``).
"""

from llmrec.evaluation.metrics import (mrr_at_k, ndcg_at_k, ranking_metrics, recall_at_k, recall_curve,
                                       target_ranks)
from llmrec.evaluation.protocols import (CollaborativeModel, RankingResult, SequenceDataset, build_dataset,
                                         evaluate_full_ranking, evaluate_sampled, masked_scores, sample_candidates)
from llmrec.evaluation.splits import LeaveOneOut, k_core, leave_one_out, llamarec_item_order, user_sequences

__all__ = [
    "CollaborativeModel", "LeaveOneOut", "RankingResult", "SequenceDataset", "build_dataset",
    "evaluate_full_ranking", "evaluate_sampled", "k_core", "leave_one_out", "llamarec_item_order", "masked_scores",
    "mrr_at_k", "ndcg_at_k", "ranking_metrics", "recall_at_k", "recall_curve", "sample_candidates", "target_ranks",
    "user_sequences",
]
