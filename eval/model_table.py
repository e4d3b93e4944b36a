"""The model table: every named LLM (base, and LoRA-trained with --train) on the ranker protocol, sampled-20, the
request benchmark and ranking latency on this machine; it is what the hardware profiles are chosen from.

    python eval/model_table.py --help

The table lives in ``llmrec.evaluation.model_table``; this is its script.
"""

from llmrec.evaluation.model_table import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
