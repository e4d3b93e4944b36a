"""Catalog facts beyond EASE's order, no LLM: EASE's top-20 re-ordered by its score plus genre-overlap and year-gap
features, weights chosen on validation (``llmrec.evaluation.content_signal``).

    python eval/content_signal.py [--data PATH] [--out eval/results]
"""

from llmrec.evaluation.content_signal import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
