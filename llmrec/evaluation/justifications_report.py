"""The justification benchmark's Markdown report and its command line (``eval/justifications.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

COLUMNS = [("justifications", "n"), ("grounded_claim_rate", "grounded"), ("personal_rate", "personal"),
           ("specific_rate", "specific"), ("media_rate", "media"), ("field_dump_rate", "field dump"),
           ("generated_share", "LLM-written"), ("kind_only_share", "kind-only tie"), ("average_words", "words"), ("justify_p50_s", "p50 s"),
           ("justify_p95_s", "p95 s")]


def _fmt(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _table(rows: list[tuple[str, dict]]) -> list[str]:
    lines = ["| | " + " | ".join(h for _, h in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, s in rows:
        lines.append(f"| {name} | " + " | ".join(_fmt(s.get(key)) for key, _ in COLUMNS) + " |")
    return lines


def markdown(report: dict) -> str:
    modes = report["modes"]
    out = ["# Justification benchmark", "",
           f"Model `{report.get('model')}` (adapter {report.get('adapter') or 'none'}, backend "
           f"{report.get('backend')}), k = {report['k']}, {'ranked by the LLM' if report['ranked'] else 'retrieval order'}"
           ". Code: `llmrec/evaluation/justifications.py`; run: `eval/justifications.py` (see `eval/README.md`).", "",
           "Modes: **generated** = the LLM writes from the chosen reasons, the template sentence when its sentence "
           "fails the checks or states none of them; **template** = the template sentence alone (no LLM). Rates per "
           "justification except grounded (per claim); personal over requests with text or a known user; media over "
           "items whose request words are only in their audio or image text. Latency: the k items of one request.",
           "", "## Overall", ""]
    out += _table([(m, report["overall"][m]) for m in modes])
    out += ["", "## Targets", "", "| target | " + " | ".join(modes) + " |", "|---" * (len(modes) + 1) + "|"]
    for name in report["targets"][modes[0]]:
        out.append(f"| {name} | " + " | ".join(_fmt(report["targets"][m][name]) for m in modes) + " |")
    out += ["", "## Per source", ""]
    out += _table([(f"{s} · {m}", report["sources"][s][m]) for s in report["sources"] for m in modes])
    out += ["", "## The volcano episode (its subject is only in its audio)", ""]
    for m in modes:
        for t in report["volcano"][m]["texts"]:
            out.append(f"- {m}: {t}")
    out += ["", "## Examples", ""]
    for m in modes:
        out += [f"### {m}", ""]
        for e in report["examples"][m]:
            who = f"user {e['user_id']}" if e["user_id"] else "anonymous"
            flags = ", ".join(k for k in ("personal", "specific", "media") if e.get(k)) or "–"
            out.append(f"- **{e['title']}** ({e['source']}; {who}; \"{e['query']}\"): {e['text']} "
                       f"· evidence {', '.join(e['evidence']) or '–'} · {flags}"
                       f"{'' if e['generated'] else ' · template'}")
        out.append("")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str]) -> int:
    """``eval/justifications.py``."""
    import os

    from llmrec.evaluation import justifications as bench
    from llmrec.evaluation.options import RESULTS, data_root, script_parser
    from llmrec.llm.cache import cache_dir

    ap = script_parser("eval/justifications.py", bench.__doc__)
    ap.add_argument("--data", type=Path, default=None, help="folder holding ml-latest-small/; default $LLMREC_DATA "
                    "or ../shared/data (skipped with a note when absent)")
    ap.add_argument("--cache", type=Path, default=None, help="where the demo and MovieLens workspaces are ingested "
                    "and reused; default <llmrec cache>/justification-benchmark")
    ap.add_argument("--out", type=Path, default=RESULTS, help="report folder (justifications.json, .md)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--modes", default=",".join(bench.MODES), help="comma-separated: generated, template")
    ap.add_argument("--requests", type=int, default=None, help="at most this many of requests-demo.jsonl (all)")
    ap.add_argument("--demo-users", type=int, default=12, help="demo known users asking with no text")
    ap.add_argument("--ml-users", type=int, default=30, help="ml-latest-small known users (0: skip)")
    ap.add_argument("--no-rank", action="store_true", help="justify retrieval's top k (skips the LLM ranker: a "
                    "quicker smoke run; the served order otherwise)")
    args = ap.parse_args(list(argv))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = args.cache or cache_dir() / "justification-benchmark"
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    workspaces = [(prepare_demo(cache), bench.demo_cases(args.demo_users, args.requests))]
    ml = (args.data or data_root()) / "ml-latest-small"
    if args.ml_users and ml.is_dir():
        from llmrec.workspace import Workspace

        root = bench.prepare_movielens(ml, cache, print)
        workspaces.append((root, bench.movielens_cases(Workspace(root), args.ml_users)))
    elif args.ml_users:
        print(f"note: {ml} not found; ml-latest-small known users skipped")
    report = bench.run(workspaces, args.k, modes, rank=not args.no_rank)
    json_path, md_path = bench.write_report(report, args.out)
    for m in modes:
        s = report["overall"][m]
        print(f"{m}: grounded {_fmt(s['grounded_claim_rate'])}, personal {_fmt(s['personal_rate'])}, specific "
              f"{_fmt(s['specific_rate'])}, media {_fmt(s['media_rate'])}, field dumps {_fmt(s['field_dump_rate'])}, "
              f"p50 {_fmt(s['justify_p50_s'])} s, p95 {_fmt(s['justify_p95_s'])} s")
    print(f"wrote {json_path} and {md_path}")
    return 0


def prepare_demo(cache: Path) -> Path:
    """The demo catalog written and ingested once into ``cache`` as ``llmrec demo`` does (media described, the
    collaborative model fitted on its log); later runs reuse it."""
    from llmrec.demo import write_demo_catalog
    from llmrec.ingest import ingest

    root = cache / "demo-workspace"
    written = write_demo_catalog(cache / "demo-catalog")
    ingest(written.catalog, root, interactions=written.interactions, log=lambda s: print(f"note: {s}"))
    return root
