"""``llmrec audit``: check stored (or external) justifications claim by claim; summary, JSON and an HTML report.

Registered on the main app by ``llmrec.cli`` through ``register(app)``; heavy imports stay inside the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from llmrec.cli_options import JsonOpt, OptionalWorkspaceOpt


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command to the ``llmrec`` app."""

    @app.command("audit")
    def audit(
        workspace: OptionalWorkspaceOpt = None,
        since: Annotated[Optional[str], typer.Option(help="only recommendations served at or after this time: "
                                                     "unix seconds or ISO date/time (UTC by default)")] = None,
        explanations: Annotated[Optional[Path], typer.Option(
            "--explanations", help="audit this JSONL file instead: {item_id, explanation, user_id?, history?, "
                                   "candidates?} per line")] = None,
        catalog: Annotated[Optional[Path], typer.Option(help="the catalog the --explanations talk about; its "
                                                        "media are described (through --workspace's media cache "
                                                        "when given) so claims about them can be checked")] = None,
        interactions: Annotated[Optional[Path], typer.Option(help="interaction log giving users' histories "
                                                             "(with --explanations)")] = None,
        report: Annotated[Optional[Path], typer.Option("--report", help="write a self-contained HTML report "
                                                       "here (JSON if the name ends in .json)")] = None,
        no_judge: Annotated[bool, typer.Option("--no-judge", help="rules and word overlap only; no LLM")] = False,
        judge_threshold: Annotated[Optional[float], typer.Option(help="calibrated probability the LLM judge "
                                                                 "needs to label a claim (0-1)")] = None,
        no_faithfulness: Annotated[bool, typer.Option("--no-faithfulness", help="skip re-ranking without cited "
                                                      "history items")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Check whether justifications are true of the item and the user: claims, hallucination and
        non-candidate mention rates, counterfactual faithfulness; failures shown with their evidence.

        Audits the recommendations recorded in --workspace (default: ./workspace, with its audit settings), or an
        --explanations file. An explanations file is checked against the cards serving uses: those stored in
        --workspace when given, and for --catalog items it lacks (every item without --workspace) cards rendered as
        ingest renders them, with images and audio described (OCR, transcripts) through the same media cache."""
        from llmrec.config import AuditConfig, LLMRecConfig
        from llmrec.audit.report import (audit_explanations, audit_workspace, parse_since, summary_lines,
                                         to_json, write_report)
        from llmrec.errors import ConfigError

        def note(message: str) -> None:
            typer.echo(f"note: {message}", err=True)

        # The workspace's [audit] settings are the defaults; flags override them for this run.
        toml = (workspace or Path("workspace")) / "llmrec.toml"
        settings = LLMRecConfig.from_toml(toml) if toml.is_file() else None
        config = settings.audit if settings else AuditConfig()
        if no_judge:
            config.judge = False
        if no_faithfulness:
            config.faithfulness = False
        if judge_threshold is not None:
            if not 0 < judge_threshold < 1:
                raise ConfigError(f"--judge-threshold must be between 0 and 1 (got {judge_threshold})")
            config.judge_threshold = judge_threshold
        if explanations is not None:
            if catalog is None and workspace is None:
                raise ConfigError("--explanations needs --catalog CATALOG (the catalog the explanations talk about) "
                                  "or --workspace W (whose stored cards they talk about)")
            if since is not None:
                note("--since applies to stored recommendations; ignored with --explanations")
            from llmrec.workspace import Workspace

            result = audit_explanations(explanations, catalog, interactions, config, log=note,
                                        ranker=settings.ranker if settings else None,
                                        workspace=Workspace(workspace) if workspace is not None else None,
                                        media=settings.media if settings else None)
        else:
            if catalog is not None or interactions is not None:
                raise ConfigError("--catalog and --interactions go with --explanations FILE")
            result = audit_workspace(workspace or Path("workspace"), parse_since(since), config, log=note)
        if report is not None:
            path = write_report(result, report)
            note(f"report written to {path}")
        if as_json:
            typer.echo(to_json(result))
            return
        for line in result.notices:
            note(line)
        for line in summary_lines(result):
            typer.echo(line)
        failures = [v for v in result.explanations if v.flags.hallucination]
        for v in failures[:10]:
            bad = [c for c in v.claims if c.label != "supported"]
            why = "; ".join(f"“{c.text}” {c.label}: " + ", ".join(f.message for f in c.findings
                                                                   if f.label != "supported")
                            for c in bad[:2])
            typer.echo(f"  ✗ {v.title} ({v.item_id}): {why}")
        if len(failures) > 10:
            typer.echo(f"  … and {len(failures) - 10} more" + (" (see the report)" if report else
                                                                " (use --report audit.html or --json)"))
        if result.problems:
            typer.echo(f"{len(result.problems)} input problem(s):", err=True)
            for p in result.problems[:20]:
                typer.echo(f"  {p}", err=True)
        sys.stdout.flush()
