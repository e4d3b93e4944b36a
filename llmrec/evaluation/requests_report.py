"""The request benchmark's report: one table per request set, the readings by condition type, and every request the
best system read or answered wrongly (``requests.{json,md}``)."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(results: list[dict], out_dir: Path, provenance: dict) -> tuple[Path, Path]:
    """``requests.json`` (everything) and ``requests.md`` (the tables and the requests that went wrong)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "requests.json", out_dir / "requests.md"
    json_path.write_text(json.dumps({"provenance": provenance, "results": results}, indent=1, ensure_ascii=False),
                         encoding="utf-8")
    md_path.write_text(render_markdown(results, provenance), encoding="utf-8")
    return json_path, md_path


def _fmt(x) -> str:
    if x is None:
        return "–"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def render_markdown(results: list[dict], provenance: dict) -> str:
    lines = ["# Request benchmark: do answers honour the conditions a request states?", "",
             "Produced by `llmrec eval --requests` (llmrec/evaluation/requests.py); requests in "
             "llmrec/evaluation/data/requests-*.jsonl, each checked against the catalog's own metadata. "
             "Precision@n: share of the top min(n, m) meeting every expected condition, where m is how many catalog "
             "items meet them (when m < n the answer shows those first, then relaxed ones, and says so), over "
             "requests with conditions. "
             "Exact: the interpretation equals the expected conditions and anchors.", "",
             "```", json.dumps(provenance, indent=1), "```", ""]
    for r in results:
        lines += [f"## {r['request_set']} ({r['items']:,} items; {next(iter(r['systems'].values()))['requests']} "
                  "requests)", "",
                  "| system | requests | P@5 | P@10 | any violation @5 | exclusion violations @5 | exact reading | "
                  "parse ms p50 / p95 | seconds p50 / p95 |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, s in r["systems"].items():
            lines.append(f"| {name} | {s['requests']} | {_fmt(s['precision@5'])} | {_fmt(s['precision@10'])} | "
                         f"{_fmt(s['any_violation@5'])} | {s['exclusion_violations@5']} of "
                         f"{s['exclusion_requests']} | {_fmt(s['exact_interpretation'])} | "
                         f"{_fmt(s['parse_ms_p50'])} / {_fmt(s['parse_ms_p95'])} | "
                         f"{_fmt(s['seconds_p50'])} / {_fmt(s['seconds_p95'])} |")
        chooser = r["systems"].get("rules + LLM chooser")
        if chooser:
            lines += ["", f"The LLM chooser added {chooser['llm_conditions']} condition(s), "
                          f"{chooser['llm_conditions_expected']} of them expected."]
        best = r["systems"].get("served") or r["systems"].get("rules")
        if best:
            lines += ["", "Exact reading by condition type (share, requests): " +
                      "; ".join(f"{k} {v[0]:.2f} ({v[1]})" for k, v in best["exact_by_type"].items()),
                      "", "By tag: " + "; ".join(f"{k} {v[0]:.2f} ({v[1]})" for k, v in best["exact_by_tag"].items())]
        name = "served" if "served" in r["outcomes"] else "rules"
        wrong = [o for o in r["outcomes"].get(name, [])
                 if o["exact"] is False or not all(o["satisfied"][:min(5, o["attainable"])])]
        if wrong:
            lines += ["", f"Requests the {name} system read or answered wrongly:", ""]
            for o in wrong:
                bad = sum(not x for x in o["satisfied"][:min(5, o["attainable"])])
                lines.append(f"- `{o['id']}` \"{o['text']}\" → {o['understood'] or '(nothing)'}"
                             f"{'' if o['exact'] else ' (reading not exact)'}"
                             f"{f'; {bad} of top 5 violate' if bad else ''}")
        lines.append("")
    return "\n".join(lines)
