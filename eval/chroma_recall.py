"""Does serving the collaborative model through Chroma lose candidates? Recall@k against exact search.

    python eval/chroma_recall.py --help

The benchmark lives in ``llmrec.evaluation.bench.chroma_recall``; this is its script.
"""

from llmrec.evaluation.bench.chroma_recall import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
