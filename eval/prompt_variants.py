"""Which ranking prompt works best for the base model: plain history, recency-focused or in-context.

    python eval/prompt_variants.py --help

The benchmark lives in ``llmrec.evaluation.bench.prompt_variants``; this is its script.
"""

from llmrec.evaluation.bench.prompt_variants import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
