"""The LlamaRec retriever protocol (LlamaRec's Table 1) for every retrieval model llmrec has.

``run`` (options, data, the loop over tie rules and methods), ``methods`` (how each table row is fitted and
evaluated), ``report`` (anchors, Markdown, plot). ``llmrec eval`` and ``eval/llamarec_protocol.py`` run ``run.main``.
"""
