"""The audit report as one self-contained HTML page: inline CSS and SVG plots, each failure next to its evidence,
every catalog text escaped."""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone
from pathlib import Path

from llmrec.audit.checks import ExplanationVerdict
from llmrec.audit.metrics import AuditReport

MAX_FAILURES_IN_HTML = 300

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#1d1d1f;
padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#666}table{border-collapse:collapse;width:100%;margin:.6em 0}
th,td{border:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}th{background:#f4f4f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.failure{border:1px solid #e3c0c0;border-left:5px solid #c0392b;border-radius:4px;padding:.6em 1em;margin:1em 0}
.failure h3{margin:.1em 0 .3em;font-size:1.05em}.just{background:#fafafa;padding:.5em;border-radius:4px}
mark.supported{background:#d8f3dc}mark.unsupported{background:#ffe8a3}mark.contradicted{background:#ffc9c9}
.label{font-weight:600;white-space:nowrap}.label.unsupported{color:#9a6700}.label.contradicted{color:#c0392b}
.label.supported{color:#2b8a3e}ul.ev{margin:0;padding-left:1.1em}pre.card{white-space:pre-wrap;background:#f7f7f9;
padding:.6em;border-radius:4px;font-size:12.5px}.plots{display:flex;flex-wrap:wrap;gap:1em}.plots svg{max-width:100%;
height:auto}.problems li{color:#8a4b00}
"""


def _plots(report: AuditReport) -> list[str]:
    """Inline SVG bar charts: the four rates per group, and claim labels per group."""
    # Figure objects, not pyplot: pyplot keeps global state, and the service renders reports in worker threads.
    from matplotlib.figure import Figure

    groups = report.groups or [report.overall]
    names = [g.group for g in groups]
    svgs = []
    metrics = [("grounded claims", "grounded_claim_rate"), ("hallucination", "hallucination_rate"),
               ("non-candidate mention", "non_candidate_mention_rate"), ("faithfulness", "faithfulness_rate")]
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.subplots()
    width = 0.8 / max(len(groups), 1)
    for i, g in enumerate(groups):
        values = [getattr(g, attr) or 0.0 for _, attr in metrics]
        bars = ax.bar([x + i * width for x in range(len(metrics))], values, width, label=g.group[:40])
        for bar, (_, attr) in zip(bars, metrics):
            v = getattr(g, attr)
            ax.annotate("n/a" if v is None else f"{v:.0%}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks([x + width * (len(groups) - 1) / 2 for x in range(len(metrics))], [m for m, _ in metrics])
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("rate")
    ax.set_title("Audit rates")
    if len(groups) > 1:
        ax.legend(fontsize=8)
    svgs.append(_svg(fig))
    fig = Figure(figsize=(7.5, 0.6 + 0.45 * len(groups)))
    ax = fig.subplots()
    left = [0] * len(groups)
    for label, colour in (("supported", "#52b788"), ("unsupported", "#f4c542"), ("contradicted", "#e5534b")):
        values = [getattr(g, label) for g in groups]
        ax.barh([n[:40] for n in names], values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlabel("claims")
    ax.set_title("Claim labels")
    ax.legend(fontsize=8, ncol=3, loc="lower right")
    svgs.append(_svg(fig))
    return svgs


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inline SVG in HTML needs neither


def _highlight(v: ExplanationVerdict) -> str:
    """The justification with each claim marked by its label (all text escaped)."""
    out, pos = [], 0
    for c in sorted(v.claims, key=lambda c: c.start):
        if c.start < pos:
            continue
        out.append(html.escape(v.justification[pos:c.start]))
        out.append(f'<mark class="{c.label}" title="{html.escape(c.label)}">'
                   f"{html.escape(v.justification[c.start:c.end])}</mark>")
        pos = c.end
    out.append(html.escape(v.justification[pos:]))
    return "".join(out)


def render_html(report: AuditReport) -> str:
    """One self-contained HTML page: no external CSS, scripts, fonts or images. All catalog text is escaped."""
    e = html.escape
    created = datetime.fromtimestamp(report.created_at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    judge = e(report.judge_model or "disabled")
    if report.judge_model:
        judge += f" (threshold {report.config.judge_threshold})"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>llmrec explanation audit — {e(Path(report.source).name or report.source)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Explanation audit</h1>",
        f"<p class='meta'>Source: <code>{e(report.source)}</code> · {report.records} recommendations · "
        f"{report.overall.justifications} justifications · created {created} · judge: {judge} · "
        f"{report.seconds:.1f} s</p>",
    ]
    for n in report.notices:
        parts.append(f"<p class='meta'>Note: {e(n)}</p>")
    # metrics table
    parts.append("<h2>Metrics</h2><table><tr><th>model / source</th><th>justifications</th><th>claims</th>"
                 "<th>grounded claims</th><th>hallucination</th><th>non-candidate mentions</th>"
                 "<th>wrong year/number</th><th>invented name/title</th><th>unseen history</th>"
                 "<th>faithfulness</th></tr>")

    def cell(rate, n, d):
        return f"<td class='num'>{'n/a' if rate is None else f'{rate:.1%}'} <span class='meta'>({n}/{d})</span></td>"

    rows = report.groups + [report.overall] if len(report.groups) > 1 else [report.overall]
    for g in rows:
        parts.append(
            f"<tr><td>{e(g.group)}</td><td class='num'>{g.justifications}</td><td class='num'>{g.claims}</td>"
            + cell(g.grounded_claim_rate, g.supported, g.claims)
            + cell(g.hallucination_rate, g.hallucinations, g.justifications)
            + cell(g.non_candidate_mention_rate, g.non_candidate_mentions, g.justifications)
            + f"<td class='num'>{g.wrong_year_or_number}</td><td class='num'>{g.invented_person_or_title}</td>"
            + f"<td class='num'>{g.unseen_history}</td>"
            + cell(g.faithfulness_rate, g.faithful, g.faithfulness_tested) + "</tr>")
    parts.append("</table>")
    if report.overall.justifications:
        parts.append("<div class='plots'>" + "".join(_plots(report)) + "</div>")
    # failures
    failures = [v for v in report.explanations if v.flags.hallucination]
    parts.append(f"<h2>Failures ({len(failures)})</h2>")
    if not failures:
        parts.append("<p>No justification has an unsupported or contradicted claim.</p>")
    for v in failures[:MAX_FAILURES_IN_HTML]:
        flags = [name.replace("_", " ") for name, on in v.flags.model_dump().items() if on and name != "hallucination"]
        where = " · ".join(x for x in [
            f"request {e(v.request_id)}" if v.request_id else "", e(v.group),
            f"user {e(v.user_id)}" if v.user_id else "", f"query “{e(v.query)}”" if v.query else ""] if x)
        parts.append(f"<section class='failure'><h3>{e(v.title)} <span class='meta'>({e(v.item_id)})</span></h3>"
                     f"<p class='meta'>{where}{' · flags: ' + e(', '.join(flags)) if flags else ''}</p>"
                     f"<p class='just'>{_highlight(v)}</p>")
        parts.append("<table><tr><th>claim</th><th>label</th><th>why</th><th>evidence</th></tr>")
        for c in v.claims:
            if c.label == "supported":
                continue
            why = "".join(f"<li>{e(f.message)}</li>" for f in c.findings if f.label != "supported" or
                          f.check == "judge")
            evidence = [ev for f in c.findings if f.label != "supported" for ev in f.evidence] or c.evidence
            ev_html = "".join(f"<li>{e(x)}</li>" for x in dict.fromkeys(evidence)) or "<li>(nothing found)</li>"
            parts.append(f"<tr><td>{e(c.text)}</td><td class='label {c.label}'>{e(c.label)}</td>"
                         f"<td><ul class='ev'>{why}</ul></td><td><ul class='ev'>{ev_html}</ul></td></tr>")
        parts.append("</table>")
        if v.declared_evidence:
            parts.append(f"<p class='meta'>Evidence the system cited: {e(', '.join(v.declared_evidence))}</p>")
        parts.append(f"<details><summary>item card</summary><pre class='card'>{e(v.card)}</pre></details>"
                     "</section>")
    if len(failures) > MAX_FAILURES_IN_HTML:
        parts.append(f"<p class='meta'>… and {len(failures) - MAX_FAILURES_IN_HTML} more failures (see --json).</p>")
    # faithfulness
    tested = [v for v in report.explanations if v.faithfulness is not None]
    parts.append(f"<h2>Counterfactual faithfulness ({len(tested)} justifications citing history)</h2>")
    if tested:
        parts.append("<table><tr><th>item</th><th>request</th><th>cited history item</th><th>in prompt</th>"
                     "<th>rank with → without</th><th>rank fell</th></tr>")
        for v in tested:
            f = v.faithfulness
            for r in f.removals:
                parts.append(f"<tr><td>{e(v.title)}</td><td>{e(v.request_id or '')}</td><td>{e(r.title)}</td>"
                             f"<td>{'yes' if r.in_prompt else 'no'}</td><td class='num'>{f.replayed_rank} → "
                             f"{r.rank_without}</td><td>{'yes' if r.fell else '<b>no</b>'}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p class='meta'>No justification cites a history item (or faithfulness was not measured)."
                     "</p>")
    if report.problems:
        parts.append(f"<h2>Not audited ({len(report.problems)})</h2><ul class='problems'>"
                     + "".join(f"<li>{e(p)}</li>" for p in report.problems[:500]) + "</ul>")
    # everything
    parts.append(f"<h2>All justifications ({len(report.explanations)})</h2><details><summary>show</summary>"
                 "<table><tr><th>item</th><th>justification</th><th>claims</th><th>flags</th></tr>")
    for v in report.explanations[:2000]:
        counts = {lbl: sum(c.label == lbl for c in v.claims) for lbl in ("supported", "unsupported", "contradicted")}
        flags = ", ".join(n.replace("_", " ") for n, on in v.flags.model_dump().items() if on)
        parts.append(f"<tr><td>{e(v.title)}</td><td>{_highlight(v)}</td><td class='num'>"
                     f"{counts['supported']}/{counts['unsupported']}/{counts['contradicted']}</td>"
                     f"<td>{e(flags)}</td></tr>")
    parts.append("</table><p class='meta'>claims: supported/unsupported/contradicted</p></details>")
    parts.append("</body></html>")
    return "\n".join(parts)
