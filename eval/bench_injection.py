"""Prompt injection: how far a planted item moves up the ranking, with and without llmrec's mitigations.

    python eval/bench_injection.py --help

The benchmark lives in ``llmrec.evaluation.bench.injection``; this is its script.
"""

from llmrec.evaluation.bench.injection import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
