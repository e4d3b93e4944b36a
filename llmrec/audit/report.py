"""An audit report: every justification checked, metrics per model/adapter and overall, as JSON or as one
self-contained HTML page (inline CSS and SVG plots, each failure next to its evidence).

Two sources: the audit store of a workspace (``audit_workspace``: stored records, with counterfactual faithfulness)
and explanations produced by any system (``audit_explanations``: a JSONL file plus the catalog they talk about).
"""

from __future__ import annotations

import copy
import html
import io
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from llmrec.audit.checks import AuditConfig, ExplanationChecker, ExplanationVerdict, Subject
from llmrec.config import RankerConfig
from llmrec.errors import CatalogError

OVERALL = "overall"
MAX_FAILURES_IN_HTML = 300


class GroupMetrics(BaseModel):
    """Audit metrics of one model + adapter (or of everything), with the counts behind every rate."""

    group: str
    justifications: int = 0
    claims: int = Field(0, description="checkable claims (opinions excluded)")
    supported: int = 0
    unsupported: int = 0
    contradicted: int = 0
    opinions: int = Field(0, description="fragments with nothing checkable, not counted as claims")
    judged: int = Field(0, description="claims the LLM judge labelled")
    grounded_claim_rate: float | None = Field(None, description="supported / claims")
    hallucinations: int = Field(0, description="justifications with an unsupported or contradicted claim")
    hallucination_rate: float | None = None
    non_candidate_mentions: int = 0
    non_candidate_mention_rate: float | None = None
    wrong_year_or_number: int = 0
    invented_person_or_title: int = 0
    unseen_history: int = 0
    faithfulness_tested: int = Field(0, description="justifications citing history that were re-ranked")
    faithful: int = Field(0, description="…of which removing every cited item lowered the item's rank")
    faithfulness_rate: float | None = None
    removals_tested: int = 0
    removals_fell: int = 0


class AuditReport(BaseModel):
    created_at: float
    source: str
    since: float | None = None
    config: AuditConfig
    judge_model: str | None = None
    records: int = Field(0, description="stored recommendations audited (0 for an external file)")
    overall: GroupMetrics
    groups: list[GroupMetrics] = Field(default_factory=list)
    explanations: list[ExplanationVerdict] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="input that could not be audited, and why")
    notices: list[str] = Field(default_factory=list)
    seconds: float = 0.0


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def summarise(verdicts: list[ExplanationVerdict], group: str) -> GroupMetrics:
    m = GroupMetrics(group=group, justifications=len(verdicts))
    for v in verdicts:
        m.claims += len(v.claims)
        m.supported += sum(c.label == "supported" for c in v.claims)
        m.unsupported += sum(c.label == "unsupported" for c in v.claims)
        m.contradicted += sum(c.label == "contradicted" for c in v.claims)
        m.judged += sum(c.method == "judge" for c in v.claims)
        m.opinions += len(v.opinions)
        m.hallucinations += v.flags.hallucination
        m.non_candidate_mentions += v.flags.non_candidate_mention
        m.wrong_year_or_number += v.flags.wrong_year_or_number
        m.invented_person_or_title += v.flags.invented_person_or_title
        m.unseen_history += v.flags.unseen_history
        if v.faithfulness is not None:
            m.faithfulness_tested += 1
            m.faithful += v.faithfulness.faithful
            m.removals_tested += len(v.faithfulness.removals)
            m.removals_fell += sum(r.fell for r in v.faithfulness.removals)
    m.grounded_claim_rate = _rate(m.supported, m.claims)
    m.hallucination_rate = _rate(m.hallucinations, m.justifications)
    m.non_candidate_mention_rate = _rate(m.non_candidate_mentions, m.justifications)
    m.faithfulness_rate = _rate(m.faithful, m.faithfulness_tested)
    return m


def _report(verdicts: list[ExplanationVerdict], **fields) -> AuditReport:
    groups = sorted({v.group for v in verdicts})
    return AuditReport(created_at=time.time(), overall=summarise(verdicts, OVERALL),
                       groups=[summarise([v for v in verdicts if v.group == g], g) for g in groups],
                       explanations=verdicts, **fields)


def parse_since(value: str | float | None) -> float | None:
    """``--since`` as unix seconds: a number, or an ISO-8601 date/time (UTC unless it says otherwise)."""
    from llmrec.errors import ConfigError

    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return _checked_seconds(float(value), value)
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return _checked_seconds(seconds, value)
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {value!r} is neither unix seconds nor an ISO date/time "
                          "(e.g. 2026-11-23 or 2026-11-23T15:00:00+01:00)") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def _checked_seconds(seconds: float, given: str | float) -> float:
    """``seconds`` when a date can be made of it; nan, inf and a milliseconds epoch (1.7e12) would fail later."""
    from llmrec.errors import ConfigError

    if not _is_date(seconds):
        hint = "; it looks like milliseconds: divide by 1000" if _is_date(seconds / 1000) else ""
        raise ConfigError(f"--since {given!r} is not a time in unix seconds (years 1 to 9999){hint}")
    return seconds


def _is_date(seconds: float) -> bool:
    try:
        datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):  # out of range, or nan
        return False
    return True


# --- sources ------------------------------------------------------------------------------------------------------

def audit_workspace(workspace, since: float | None = None, config: AuditConfig | None = None, recommender=None,
                    log: Callable[[str], None] = lambda s: None) -> AuditReport:
    """Audit the stored recommendations of a workspace (served at or after ``since``)."""
    from llmrec.audit.store import AuditStore
    from llmrec.workspace import Workspace

    t0 = time.perf_counter()
    config = config or AuditConfig()
    ws = recommender.workspace if recommender is not None else (
        workspace if isinstance(workspace, Workspace) else Workspace(workspace))
    store_path = ws.root / "audit.sqlite"
    records = list(AuditStore(store_path).iter_records(since)) if store_path.is_file() else []
    if not records:
        when = f" since {datetime.fromtimestamp(since, timezone.utc).isoformat()}" if since is not None else ""
        return _report([], source=str(ws.root), since=since, config=config,
                       notices=[f"no recommendations recorded in {store_path}{when}; run `llmrec ask` first"],
                       seconds=round(time.perf_counter() - t0, 2))
    if recommender is None:
        from llmrec.recommender import Recommender

        recommender = Recommender(ws)  # cheap: the model loads only if the judge or faithfulness needs it
    report = audit_records(records, recommender, config, log=log)
    report.since, report.seconds = since, round(time.perf_counter() - t0, 2)
    return report


_CATALOG_CHECKERS: dict[str, tuple[tuple, dict[str, tuple[str, str]], ExplanationChecker]] = {}


def catalog_checker(workspace, config: AuditConfig) -> tuple[dict[str, tuple[str, str]], ExplanationChecker]:
    """``({item id: (title, card)}, checker)`` for the workspace's catalog as it is now, without a judge.

    Reading every card and compiling a pattern per title takes about a second on a 10,000-item catalog, which a
    service answering ``/v1/audits`` would pay per call; both are kept until the catalog or the config changes.
    """
    key = (workspace.catalog_version(), config.model_dump_json())
    cached = _CATALOG_CHECKERS.get(str(workspace.root))
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    cards = {i.id: (i.title, i.card) for i in workspace.get_items(workspace.all_item_ids()).values()}
    checker = ExplanationChecker.from_cards(cards, judge=None, config=config)
    _CATALOG_CHECKERS[str(workspace.root)] = (key, cards, checker)
    return cards, checker


def audit_records(records: list, recommender, config: AuditConfig | None = None,
                  log: Callable[[str], None] = lambda s: None) -> AuditReport:
    """Audit stored recommendations (``AuditRecord``s) against the workspace of ``recommender``, whose backend
    serves as judge and whose ranker re-scores for faithfulness (both load only when needed)."""
    from llmrec.audit.faithfulness import FaithfulnessProbe

    t0 = time.perf_counter()
    config = config or AuditConfig()
    ws = recommender.workspace
    fields = dict(source=str(ws.root), config=config, records=len(records))
    cards, checker = catalog_checker(ws, config)
    if config.judge and any(r.items for r in records):
        from llmrec.audit.judge import ClaimJudge

        checker = copy.copy(checker)  # the cached one stays judge-free; this one shares its compiled patterns
        checker.judge = ClaimJudge(recommender.backend, threshold=config.judge_threshold)
        fields["judge_model"] = checker.judge.model_id
    jobs, problems = [], []
    for r in records:
        history = {h: cards[h][0] for h in r.history if h in cards}
        candidates = {c.item_id for c in r.candidates}
        group = r.model + (f" + {r.adapter}" if r.adapter else "")
        for it in r.items:
            if it.item_id not in cards:
                problems.append(f"record {r.request_id}: item {it.item_id} is no longer in the workspace; skipped")
                continue
            title, card = cards[it.item_id]
            subject = Subject(item_id=it.item_id, title=title, card=card, history=history,
                              history_cards={h: cards[h][1] for h in history}, candidates=candidates,
                              query=r.request.query)
            jobs.append((subject, it.justification, {"request_id": r.request_id, "group": group,
                                                     "user_id": r.request.user_id, "evidence": it.evidence}))
    log(f"checking {len(jobs)} justifications from {len(records)} recommendations")
    verdicts = checker.check_many(jobs)
    notices = []
    if config.faithfulness:
        probe = None
        by_request: dict[str, list[ExplanationVerdict]] = {}
        for v in verdicts:
            if v.cited_history:
                by_request.setdefault(v.request_id or "", []).append(v)
        if by_request:
            log(f"faithfulness: re-ranking {len(by_request)} recommendations without their cited history items")
        for r in records:
            cited = by_request.get(r.request_id)
            if not cited:
                continue
            probe = probe or FaithfulnessProbe.from_recommender(recommender)
            results, more = probe.probe(r, {v.item_id: v.cited_history for v in cited})
            notices.extend(more)
            for v in cited:
                v.faithfulness = results.get(v.item_id)
    return _report(verdicts, problems=problems, notices=notices, seconds=round(time.perf_counter() - t0, 2),
                   **fields)


def audit_explanations(path: str | Path, catalog: str | Path, interactions: str | Path | None = None,
                       config: AuditConfig | None = None, backend=None, ranker: RankerConfig | None = None,
                       log: Callable[[str], None] = lambda s: None) -> AuditReport:
    """Audit explanations produced by any system: one JSON object per line,
    ``{"item_id", "explanation", "user_id"?, "history"?: [item ids], "candidates"?: [item ids]}``.

    Cards are rendered from the catalog's text fields (no media processing). Without ``candidates``, only the item
    itself and the user's history count as legitimately named items.
    """
    from llmrec.cards import render_card
    from llmrec.catalog.readers import read_catalog, read_interactions

    t0 = time.perf_counter()
    config = config or AuditConfig()
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"explanations file {path} does not exist")
    items = read_catalog(catalog)
    cards = {i.id: (i.title, render_card(i, [], [])) for i in items.items}
    problems = [f"catalog: {p}" for p in items.problems]
    histories: dict[str, list[str]] = {}
    if interactions is not None:
        log_rows = read_interactions(interactions)
        problems += [f"interactions: {p}" for p in log_rows.problems]
        for i in sorted(log_rows.interactions, key=lambda i: (i.timestamp, i.row)):
            histories.setdefault(i.user_id, []).append(i.item_id)
    jobs = []
    users_without_log = 0
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            row = ExternalExplanation.model_validate_json(line)
        except ValidationError as e:
            problems.append(f"{where}: " + "; ".join(f"{'.'.join(map(str, err['loc'])) or 'line'}: {err['msg']}"
                                                     for err in e.errors()[:3]))
            continue
        if row.item_id not in cards:
            problems.append(f"{where}: item_id {row.item_id!r} is not in the catalog; skipped")
            continue
        if row.history is not None:
            history_ids = row.history
        elif row.user_id is not None:
            if interactions is not None and row.user_id not in histories:
                problems.append(f"{where}: user {row.user_id!r} has no interactions in the log; audited with an "
                                "empty history")
            history_ids = histories.get(row.user_id, [])
            users_without_log += interactions is None
        else:
            history_ids = []
        unknown = [h for h in history_ids if h not in cards]
        if unknown:
            problems.append(f"{where}: history item(s) not in the catalog ignored: {', '.join(unknown[:5])}")
        history = {h: cards[h][0] for h in history_ids if h in cards}
        title, card = cards[row.item_id]
        subject = Subject(item_id=row.item_id, title=title, card=card, history=history,
                          history_cards={h: cards[h][1] for h in history},
                          candidates=set(row.candidates) if row.candidates is not None else None)
        jobs.append((subject, row.explanation, {"group": row.system or path.name, "user_id": row.user_id,
                                                "request_id": row.id}))
    judge = None
    if config.judge and jobs:
        from llmrec.audit.judge import ClaimJudge

        if backend is None:
            from llmrec.ranking.backends import open_backend

            backend = open_backend(ranker or RankerConfig())  # the workspace's model and adapter judge
        judge = ClaimJudge(backend, threshold=config.judge_threshold)
    log(f"checking {len(jobs)} explanations against {len(cards)} catalog items")
    checker = ExplanationChecker.from_cards(cards, judge=judge, config=config)
    verdicts = checker.check_many(jobs)
    notices = ["counterfactual faithfulness needs stored recommendations; not measured for a file"]
    if users_without_log:
        notices.append(f"{users_without_log} explanation(s) name a user_id but no --interactions log was given: "
                       "their history is taken as empty, so any claim about it is unsupported")
    return _report(verdicts, source=str(path), config=config, judge_model=judge.model_id if judge else None,
                   problems=problems, seconds=round(time.perf_counter() - t0, 2), notices=notices)


class ExternalExplanation(BaseModel):
    """One line of an external explanations file."""

    item_id: str = Field(min_length=1)
    explanation: str
    user_id: str | None = None
    history: list[str] | None = None
    candidates: list[str] | None = None
    id: str | None = Field(None, description="the producer's own id for this explanation, kept in the report")
    system: str | None = Field(None, description="which system wrote it; reported as its own group")


# --- output -------------------------------------------------------------------------------------------------------

def to_json(report: AuditReport) -> str:
    return report.model_dump_json(indent=2)


def summary_lines(report: AuditReport) -> list[str]:
    """A short plain-text summary, one line per group."""
    def pct(x):
        return "n/a" if x is None else f"{x:.1%}"

    lines = []
    for g in [*report.groups, report.overall] if len(report.groups) > 1 else [report.overall]:
        lines.append(
            f"{g.group}: {g.justifications} justifications, {g.claims} claims — grounded {pct(g.grounded_claim_rate)}"
            f" ({g.supported}/{g.claims}), hallucination {pct(g.hallucination_rate)} ({g.hallucinations}/"
            f"{g.justifications}), non-candidate mentions {pct(g.non_candidate_mention_rate)} "
            f"({g.non_candidate_mentions}/{g.justifications}), faithfulness {pct(g.faithfulness_rate)} "
            f"({g.faithful}/{g.faithfulness_tested})")
    return lines


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


def write_report(report: AuditReport, path: str | Path) -> Path:
    """Write the HTML report (or JSON, when the file name ends in .json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_json(report) if path.suffix.lower() == ".json" else render_html(report)
    path.write_text(text, encoding="utf-8")
    return path


def load_report(path: str | Path) -> AuditReport:
    return AuditReport.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
