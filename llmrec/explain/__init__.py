"""Justifications: one sentence per returned item saying why it answers this request for this person, true by the
claim engine's checks.

``reasons`` (typed reasons with their sources) ← ``gather`` (built from the card, media text, request reading,
history, interaction log; ``context`` holds one request's inputs, ``signals`` what a workspace adds) → ``scoring``
(keep the best one or two) → ``justifier`` (the LLM writes from them, batched; ``acceptance`` checks) or ``realise``
(the template ``prompts/justification_reasons.j2``); ``usefulness`` measures the result (personal, specific,
media, field dumps) for the audit and ``eval/justifications.py``.
"""
