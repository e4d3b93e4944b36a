"""transformers vs vLLM on the same ranking requests and justification prompts: throughput, latency, agreement.

    python eval/bench_backends.py --help

The benchmark lives in ``llmrec.evaluation.bench.backends``; this is its script.
"""

from llmrec.evaluation.bench.backends import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
