"""An audit report: every justification checked, metrics per model/adapter and overall (``metrics``), as JSON or
as one self-contained HTML page (``html``).

Two sources: the audit store of a workspace (``audit_workspace``: stored records, with counterfactual faithfulness)
and explanations produced by any system (``audit_explanations``: a JSONL file plus the catalog they talk about).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from llmrec.audit.checks import ExplanationChecker, ExplanationVerdict
from llmrec.audit.html import render_html
from llmrec.audit.metrics import OVERALL, AuditReport, GroupMetrics, report_of, summarise
from llmrec.claims import Grounds
from llmrec.config import AuditConfig, MediaConfig, RankerConfig
from llmrec.errors import CatalogError

__all__ = ["OVERALL", "AuditReport", "GroupMetrics", "audit_explanations", "audit_records", "audit_workspace",
           "load_report", "parse_since", "render_html", "report_of", "summarise", "summary_lines", "to_json",
           "write_report"]


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
        return report_of([], source=str(ws.root), since=since, config=config,
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

    Reading every card and indexing every title is work a service answering ``/v1/audits`` would otherwise pay per
    call; both are kept until the catalog or the config changes. ``checker.catalog`` is the claim engine's view of
    the catalog, the one to give the justifier (``Justifier.justify(..., catalog=...)``) so both judge titles and
    genre words alike.
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

        checker = copy.copy(checker)  # the cached one stays judge-free; this one shares its catalog
        checker.judge = ClaimJudge(recommender.backend, threshold=config.judge_threshold)
        fields["judge_model"] = checker.judge.model_id
    jobs, problems = [], []
    for r in records:
        history = {h: cards[h][0] for h in r.history if h in cards}
        candidates = {c.item_id for c in r.candidates}
        group = r.model + (f" + {r.adapter}" if r.adapter else "")
        for it in r.items:
            if not it.justification:  # a streamed answer closed before this one was written: nothing was shown
                continue
            if it.item_id not in cards:
                problems.append(f"record {r.request_id}: item {it.item_id} is no longer in the workspace; skipped")
                continue
            title, card = cards[it.item_id]
            grounds = Grounds(item_id=it.item_id, title=title, card=card, history=history,
                              history_cards={h: cards[h][1] for h in history}, candidates=candidates,
                              query=r.request.query)
            jobs.append((grounds, it.justification, {"request_id": r.request_id, "group": group,
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
    return report_of(verdicts, problems=problems, notices=notices, seconds=round(time.perf_counter() - t0, 2),
                   **fields)


def audit_explanations(path: str | Path, catalog: str | Path | None, interactions: str | Path | None = None,
                       config: AuditConfig | None = None, backend=None, ranker: RankerConfig | None = None,
                       log: Callable[[str], None] = lambda s: None, workspace=None,
                       media: MediaConfig | None = None) -> AuditReport:
    """Audit explanations produced by any system: one JSON object per line,
    ``{"item_id", "explanation", "user_id"?, "history"?: [item ids], "candidates"?: [item ids]}``.

    Claims are checked against the cards serving uses (``llmrec.audit.cards``): a ``workspace``'s stored cards, and
    for catalog items it lacks, cards rendered with their media described under ``media`` through the same cache as
    ingest. Without ``candidates``, only the item itself and the user's history count as legitimately named items.
    """
    from llmrec.audit.cards import audit_cards
    from llmrec.catalog.readers import read_interactions

    t0 = time.perf_counter()
    config = config or AuditConfig()
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"explanations file {path} does not exist")
    if catalog is None and workspace is None:
        raise CatalogError("auditing an explanations file needs the catalog it talks about or a workspace")
    built = audit_cards(catalog, workspace, media, log=log)
    cards = built.cards
    problems = list(built.problems)
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
        grounds = Grounds(item_id=row.item_id, title=title, card=card, history=history,
                          history_cards={h: cards[h][1] for h in history},
                          candidates=set(row.candidates) if row.candidates is not None else None)
        jobs.append((grounds, row.explanation, {"group": row.system or path.name, "user_id": row.user_id,
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
    notices = [*built.notices, "counterfactual faithfulness needs stored recommendations; not measured for a file"]
    if users_without_log:
        notices.append(f"{users_without_log} explanation(s) name a user_id but no --interactions log was given: "
                       "their history is taken as empty, so any claim about it is unsupported")
    return report_of(verdicts, source=str(path), config=config, judge_model=judge.model_id if judge else None,
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
            f"({g.faithful}/{g.faithfulness_tested}), personal {pct(g.personal_rate)} ({g.personal}/"
            f"{g.personal_eligible}), field dumps {g.field_dumps}")
    return lines


def write_report(report: AuditReport, path: str | Path) -> Path:
    """Write the HTML report (or JSON, when the file name ends in .json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_json(report) if path.suffix.lower() == ".json" else render_html(report)
    path.write_text(text, encoding="utf-8")
    return path


def load_report(path: str | Path) -> AuditReport:
    return AuditReport.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
