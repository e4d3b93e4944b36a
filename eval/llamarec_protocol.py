"""Reproduce LlamaRec's retriever protocol (its Table 1) for popularity, BPR, EASE and llmrec's sequential models.

    nice -n 10 python eval/llamarec_protocol.py [--data PATH] [--dataset ml-latest-small|ml-100k|ml-1m|csv]
                                                [--out eval/results] [--seed 0] [--methods ...] [--refit]

The protocol lives in ``llmrec.evaluation.llamarec`` (``--help`` lists every option); ``llmrec eval`` runs the same.
"""

from llmrec.evaluation.llamarec.run import main
from llmrec.evaluation.options import run_script

if __name__ == "__main__":
    raise SystemExit(run_script(main))
