"""Offline evaluation: ranking metrics, data splits, the published protocols (LlamaRec full ranking, sampled-20),
their drivers and reports.

Ties in score are counted against the target everywhere (``metrics``); every model is scored through
``user_vectors @ item_vectors.T`` (``llmrec.retrieval.protocol``), the computation a vector store performs.
"""
