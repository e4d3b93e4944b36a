"""Image tags on the posters folder: share of posters with a "looks like" tag, and a hand-checked sample.

    python eval/image_tags.py --help

The measurement lives in ``llmrec.evaluation.image_tags``; this is its script.
"""

from llmrec.evaluation.image_tags import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
