"""Ranking speed against this machine's matmul peak; token budgets and dtypes against sampled-20 quality.

    nice -n 5 python eval/ranking_speed.py --help

The benchmark lives in ``llmrec.evaluation.bench.ranking_speed``; this is its script.
"""

from llmrec.evaluation.bench.ranking_speed import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
