"""Latency of ``Recommender.ask`` on a workspace: p50/p95 over N requests, with and without justifications.

    python eval/bench_ask.py [--workspace demo-workspace] [--n 20] [--out eval/results]

Builds the demo workspace first when it is missing. Prints a table and writes ask-latency.json/.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from llmrec.evaluation.options import RESULTS
from llmrec.evaluation.provenance import command_line, versions

QUERIES = [
    "a slow-burn science-fiction film, nothing too violent", "a podcast episode about volcanoes",
    "something funny for the whole family", "a scary film for tonight", "calm music to read to",
    "a documentary about the sea", "a thriller with a twist", "a book about grief and gardens",
    "loud fast music", "an animated film about friendship",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="eval/bench_ask.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, default=Path("demo-workspace"))
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    from llmrec.recommender import Recommender

    if not (args.workspace / "state.sqlite").exists():
        from llmrec.demo import run_demo

        run_demo(args.workspace)
    rec = Recommender(args.workspace)
    users = sorted(rec.workspace.interaction_log().present_users())
    rec.ask(QUERIES[0], k=args.k)  # warm-up: model load is not request latency
    results = {}
    for justify in (False, True):
        rec.config.justification.enabled = justify
        totals, ranks = [], []
        for i in range(args.n):
            user = users[i % len(users)] if i % 2 else None
            r = rec.ask(QUERIES[i % len(QUERIES)], user_id=user, k=args.k)
            totals.append(r.timings.total_s)
            ranks.append(r.timings.rank_s)
        results["with_justifications" if justify else "ranking_only"] = {
            "n": args.n, "p50_s": round(statistics.median(totals), 3), "p95_s": round(percentile(totals, 0.95), 3),
            "rank_pass_p50_s": round(statistics.median(ranks), 3)}
    report = {"workspace": str(args.workspace), "k": args.k, "results": results, "machine": platform.processor()
              or platform.machine(), "cores": os.cpu_count(), "time": time.strftime("%Y-%m-%d %H:%M"),
              "command": command_line("python eval/bench_ask.py", argv), "versions": versions(("torch",))}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ask-latency.json").write_text(json.dumps(report, indent=2))
    lines = ["| mode | n | p50 (s) | p95 (s) | ranking pass p50 (s) |", "|---|---|---|---|---|"]
    for mode, r in results.items():
        lines.append(f"| {mode} | {r['n']} | {r['p50_s']} | {r['p95_s']} | {r['rank_pass_p50_s']} |")
    (args.out / "ask-latency.md").write_text("# ask latency\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0
