"""The request benchmark: are the conditions a request states honoured? Every answer checked against the catalog's
own metadata, for the embedding retriever alone, the rules, the rules with the LLM chooser and the served pipeline.

    python eval/requests_benchmark.py --help      (the same as `llmrec eval --requests`)

The benchmark lives in ``llmrec.evaluation.requests``; this is its script.
"""

from llmrec.evaluation.options import run_script
from llmrec.evaluation.requests import main

if __name__ == "__main__":
    raise SystemExit(run_script(main))
