"""The explanation audit on hand-labelled explanations: precision and recall of its hallucination flag.

    python eval/audit_labelled.py --help

The evaluation lives in ``llmrec.audit.labelled_set``; this is its script.
"""

from llmrec.audit.labelled_set import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
