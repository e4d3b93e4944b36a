"""Latency of Recommender.ask on a workspace: p50/p95 over N requests, with and without justifications.

    python eval/bench_ask.py --help

The benchmark lives in ``llmrec.evaluation.bench.ask``; this is its script.
"""

from llmrec.evaluation.bench.ask import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
