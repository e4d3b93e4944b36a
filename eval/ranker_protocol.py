"""The LLM ranker on the LlamaRec protocol: re-rank the SASRec retriever's top-20, base model vs a LoRA adapter.

    nice -n 5 python eval/ranker_protocol.py [--train adapters/NAME | --adapter adapters/NAME] [--data PATH]
                                             [--valid-users 48] [--sampled-users 150] [--seed 0] [--out eval/results]

The protocol lives in ``llmrec.evaluation.ranker`` (``--help`` lists every option); ``llmrec eval --ranker`` runs
the same.
"""

from llmrec.evaluation.options import run_script
from llmrec.evaluation.ranker.run import main

if __name__ == "__main__":
    raise SystemExit(run_script(main))
