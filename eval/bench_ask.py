"""Latency of ask (Python API, CLI standalone, CLI through `llmrec serve`) and the service's throughput at 1, 4 and
16 clients, in one run; the ranking pass's tokens and GFLOP/s against the machine's matmul peak.

    python eval/bench_ask.py --help
    python eval/bench_ask.py --quick      # a smoke run

The benchmark lives in ``llmrec.evaluation.bench.ask``; this is its script.
"""

from llmrec.evaluation.bench.ask import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
