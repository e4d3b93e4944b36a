"""The request benchmark (issue: conditions stated in a request are honoured): a thin driver over
``llmrec.evaluation.requests``. Same as `llmrec eval --requests`.

    python eval/requests_benchmark.py [--data ../shared/data] [--sets demo,ml-100k,ml-latest-small] [--no-served]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data",
                        help="folder holding ml-100k/ and ml-latest-small/ (default ../shared/data)")
    parser.add_argument("--sets", default="demo,ml-100k,ml-latest-small", help="comma-separated request sets")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("LLMREC_CACHE", Path.home() / ".cache" /
                                                                          "llmrec")) / "request-benchmark",
                        help="where the benchmark's workspaces are ingested (reused across runs)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="report folder")
    parser.add_argument("--no-served", action="store_true", help="skip the two served-pipeline systems (no LLM)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from llmrec.evaluation.requests import run_benchmark

    run_benchmark([s.strip() for s in args.sets.split(",") if s.strip()], args.data, args.cache, args.out,
                  served=not args.no_served)


if __name__ == "__main__":
    main()
