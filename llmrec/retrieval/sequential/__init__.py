"""A sequential recommender whose user vector is a vector-store query and item vectors are its keys.

The model reads a user's recent items (oldest → newest) through a causal network and predicts the next item: a
transformer (SASRec), linear recurrent units (LRURec), or both side by side as one model (the default).
Its output layer *is* the input item embedding table plus a per-item bias, so with the bias folded into one extra
coordinate (user side 1, item side b_i) the score of item i after history h is exactly

    score(h, i) = user_vector(h) · item_vector(i)        user_vector = [h, 1], item_vector = [e_i, b_i]

which is what lets the collaborative signal live in a vector store: item vectors are indexed once, a user vector is
computed per request and used as the query (inner-product search, or cosine after
``llmrec.retrieval.collaborative.to_cosine_space``).

Modules: ``networks`` (the torch modules), ``training`` (the training loop and early stopping), ``manifest`` (the
model on disk), ``model`` (``SequentialRecommender``, the retrieval model).
"""

# SequentialConfig lives in llmrec.config (the workspace config composes it without importing torch); it is
# re-exported here because it belongs to this model.
from llmrec.config import SequentialConfig
from llmrec.retrieval.sequential.manifest import MANIFEST_FILE, MANIFEST_FORMAT, WEIGHTS_FILE
from llmrec.retrieval.sequential.model import SequentialRecommender
from llmrec.retrieval.sequential.training import MIX_GRID

__all__ = ["MANIFEST_FILE", "MANIFEST_FORMAT", "MIX_GRID", "WEIGHTS_FILE", "SequentialConfig",
           "SequentialRecommender"]
