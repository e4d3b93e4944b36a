"""The justification benchmark: grounded, personal, specific, media and field-dump rates, length and latency of the
sentences llmrec shows, per mode (LLM-generated from reasons / template), on the demo, the demo request benchmark,
known users, and ml-latest-small known users when that data is there.

    python eval/justifications.py --help

The benchmark lives in ``llmrec.evaluation.justifications``; this is its script.
"""

from llmrec.evaluation.justifications_report import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
