"""The ``llmrec`` command: one subcommand per user job. Library errors become one readable line and an exit code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from llmrec.errors import CatalogError, LLMRecError
from llmrec.api import MAX_K
from llmrec.cli_options import (AdapterOpt, BackendOpt, ConfigOpt, JsonOpt, NoJustifyOpt, WorkspaceOpt,
                                load_config)

app = typer.Typer(
    name="llmrec", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="LLM-centric multimodal recommender: ingest a catalog, ask in plain language, get ranked items with "
         "grounded justifications.\n\nStart with `llmrec demo`, then `llmrec ask \"...\" --workspace demo-workspace`.")

_state = {"debug": False}


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks on errors")] = False,
          verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show the libraries' own logs, progress "
                                                "bars and warnings (model loading, Chroma, ...)")] = False) -> None:
    from llmrec.quiet import quiet_libraries

    _state["debug"] = debug
    quiet_libraries(verbose)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _progress(it, total, desc):
    from tqdm import tqdm

    return tqdm(it, total=total, desc=desc, unit="it", file=sys.stderr, dynamic_ncols=True, leave=False,
                disable=None)  # None: bars on a terminal, silent in logs and CI


@app.command()
def ingest(
    catalog: Annotated[Path, typer.Argument(help="catalog .jsonl/.csv (id, title, text fields, image, audio, "
                                                 "metadata) or a MovieLens folder")],
    workspace: WorkspaceOpt = Path("workspace"),
    interactions: Annotated[Optional[Path], typer.Option(help="CSV user_id,item_id,timestamp[,rating]")] = None,
    posters: Annotated[Optional[Path], typer.Option(help="MovieLens posters folder (<movieId>.jpg)")] = None,
    details: Annotated[Optional[Path], typer.Option(help="ML-100K details.json (plot, cast...)")] = None,
    strict: Annotated[bool, typer.Option(help="refuse the whole file if any row is invalid")] = False,
    limit: Annotated[Optional[int], typer.Option(min=1, help="ingest only the first N items (a quick trial)")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn a catalog into item cards and vectors. Incremental: unchanged items are skipped; safe to re-run after
    Ctrl-C."""
    from llmrec.ingest import ingest as run_ingest

    if config is not None:
        # The workspace remembers its config, so later `ask`/`serve` use the same store and models without --config.
        import shutil

        workspace.mkdir(parents=True, exist_ok=True)
        load_config(workspace, config)  # validate before copying
        remembered = workspace / "llmrec.toml"
        if not (remembered.exists() and remembered.samefile(config)):  # --config may name the workspace's own file
            shutil.copyfile(config, remembered)
    report = run_ingest(catalog, workspace, interactions, load_config(workspace, config), posters, details, strict,
                        progress=_progress, log=lambda s: _err(f"note: {s}"), limit=limit)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    _print_ingest_report(report)


def _print_ingest_report(report) -> None:
    typer.echo(f"workspace {report.workspace}: {report.items_read} items read — {report.items_new} new, "
               f"{report.items_updated} updated, {report.items_unchanged} unchanged; {report.embedded} embedded; "
               f"media: {report.media_described} described, {report.media_from_cache} from cache, "
               f"{len(report.media_failed)} failed; interactions: {report.interactions_added} added "
               f"({report.seconds:.1f} s)")
    if report.facets:
        typer.echo("facets (conditions a request can state): " + "; ".join(report.facets))
    if report.interactions_unknown_items:
        typer.echo(f"{report.interactions_unknown_items} interaction(s) name items not in the catalog")
    if report.collaborative:
        typer.echo(report.collaborative)
    for title, rows in (("rejected rows", report.rows_rejected), ("media problems", report.media_failed),
                        ("warnings", report.item_warnings)):
        if rows:
            typer.echo(f"{len(rows)} {title}:")
            for r in rows[:20]:
                typer.echo(f"  {r}")
            if len(rows) > 20:
                typer.echo(f"  … and {len(rows) - 20} more (see --json)")


def _print_recommendation(rec) -> None:
    """Catalog, model and user text is escaped: a title like ``AC/DC [/live]`` is text, not rich markup."""
    from rich.console import Console

    console = Console()
    _print_reading(rec, console)
    console.print(_answer_table(rec, {it.item_id: it for it in rec.items}))
    _print_footer(rec, console)


def _print_streamed(answer, justifications) -> None:
    """The table as soon as the items are ranked, then each justification as it is written: filled into the table
    in place on a terminal, printed one line per item below it otherwise (a log, a pipe)."""
    from rich.console import Console
    from rich.live import Live
    from rich.markup import escape

    console = Console()
    _print_reading(answer.ranked, console)
    written: dict = {}
    if console.is_terminal:
        with Live(_answer_table(answer.ranked, written), console=console, auto_refresh=False) as live:
            for j in justifications:
                written[j.item_id] = j
                live.update(_answer_table(answer.ranked, written), refresh=True)
    else:
        console.print(_answer_table(answer.ranked, written))
        titles = {it.item_id: it.title for it in answer.ranked.items}
        for j in justifications:
            line = f"{j.rank}. {escape(titles[j.item_id])}: {escape(_why(j))}"
            if j.evidence:
                line += f" [dim](evidence: {escape(', '.join(j.evidence))})[/dim]"
            console.print(line, soft_wrap=True)
    _print_footer(answer.recommendation, console)


def _why(j) -> str:
    return j.justification + ("" if j.generated else " [card facts]")


def _print_reading(rec, console) -> None:
    from rich.markup import escape

    reading = rec.interpretation
    if reading is not None and reading.parsed and not reading.is_plain():
        console.print(f"[bold]understood as:[/bold] {escape(reading.summary)}")


def _answer_table(rec, written: dict):
    """The answer's table; an item whose justification (in ``written``, by item id) is not in yet says so."""
    from rich.markup import escape
    from rich.table import Table

    title = escape(rec.query or "(no request text)") + (f" — user {escape(rec.user_id)}" if rec.user_id else "")
    table = Table(title=title, show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("item")
    table.add_column("score", justify="right")
    table.add_column("why")
    for it in rec.items:
        j = written.get(it.item_id)
        if j is None:
            why = "[dim]writing the justification…[/dim]"
        else:
            why = escape(_why(j))
            if j.evidence:
                why += f"\n[dim]evidence: {escape(', '.join(j.evidence))}[/dim]"
        table.add_row(str(it.rank), f"{escape(it.title)}\n[dim]{escape(it.item_id)}[/dim]", f"{it.score:.2f}", why)
    return table


def _print_footer(rec, console) -> None:
    from rich.markup import escape

    for n in rec.notices:
        console.print(f"[yellow]note:[/yellow] {escape(n)}")
    t = rec.timings
    model = rec.model + (f" + {rec.adapter}" if rec.adapter else "")
    console.print(f"[dim]{escape(model)} via {escape(rec.backend)}; "
                  f"retrieve {t.retrieve_s:.2f} s, rank {t.rank_s:.2f} s, justify {t.justify_s:.2f} s, "
                  f"total {t.total_s:.2f} s; request {rec.request_id}[/dim]")


@app.command()
def ask(
    query: Annotated[str, typer.Argument(help="what you want, in your words")] = "",
    workspace: WorkspaceOpt = Path("workspace"),
    user: Annotated[Optional[str], typer.Option("--user", help="a known user id from the interaction log")] = None,
    history: Annotated[Optional[str], typer.Option(help="comma-separated item ids you liked, oldest first")] = None,
    k: Annotated[int, typer.Option("--k", "-k", help=f"how many items (1 to {MAX_K})")] = 5,
    include_seen: Annotated[bool, typer.Option(help="allow items the user already interacted with")] = False,
    backend: BackendOpt = None,
    adapter: AdapterOpt = None,
    no_justify: NoJustifyOpt = False,
    where: Annotated[Optional[list[str]], typer.Option(
        "--where", help="add a hard condition, e.g. 'year<1970', 'genres!=Comedy', 'kind=podcast episode', "
        "'runtime=80..100'; repeat for more; replaces what was read from the text for that facet")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(
        "--ignore", help="drop a condition read from the text, by the expression --json shows (e.g. 'genres=War')")]
    = None,
    no_parse: Annotated[bool, typer.Option("--no-parse", help="do not read conditions from the text; embed it as "
                                           "typed")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    standalone: Annotated[bool, typer.Option("--standalone", help="load the models in this process even when "
                                             "`llmrec serve` is running for the workspace")] = False,
) -> None:
    """Recommend items for a request, anonymously or as a known user.

    When `llmrec serve` runs for the workspace (it writes <workspace>/service.json), the request goes to it and is
    answered by its loaded models, in about the time of one ranking pass; otherwise (or with --standalone, --config,
    --backend, --adapter or --no-justify, which the running service would not honour) this process loads them.

    Conditions in the text are honoured and shown back ("understood as: kind = podcast episode · about: volcanoes"):
    kinds and genres ("a podcast", "not a comedy"), years and decades ("from the eighties", "before 1970"), lengths
    ("under 90 minutes"), ratings ("rated 8 or higher"), people ("directed by Hitchcock", "starring ..."), and
    "like <title>". Correct the reading with --where / --ignore, or switch it off with --no-parse.

    Standalone, the table is printed as soon as the items are ranked and each justification fills it in as it is
    written (on a terminal in place, otherwise one line per item below the table). --json prints the whole answer
    at the end."""
    hist = [h.strip() for h in history.split(",") if h.strip()] if history else None
    if not (standalone or config or backend or adapter or no_justify):
        rec = _ask_running_service(workspace, dict(query=query, user_id=user, history=hist, k=k,
                                                   include_seen=include_seen, where=list(where or []),
                                                   ignore=list(ignore or []), parse=not no_parse))
        if rec is not None:
            if as_json:
                typer.echo(rec.model_dump_json(indent=2))
            else:
                _print_recommendation(rec)
            return
    from llmrec.recommender import Recommender

    cfg = load_config(workspace, config).with_serving_options(backend, adapter, justify=not no_justify)
    recommender = Recommender(workspace, cfg)
    answer = recommender.rank(query, user_id=user, history=hist, k=k, include_seen=include_seen, where=where,
                              ignore=ignore, parse=not no_parse)
    if as_json:  # one document: printed once every justification is in
        for _ in recommender.justify(answer):
            pass
        typer.echo(answer.recommendation.model_dump_json(indent=2))
    else:
        _print_streamed(answer, recommender.justify(answer))


def _ask_running_service(workspace: Path, request: dict):
    """The answer of the workspace's running service (saying so on stderr), or None when none is up and ready."""
    from llmrec.serving.discovery import ask_service, find_service

    token = os.environ.get("LLMREC_TOKEN") or None
    service = find_service(workspace, token)
    if service is None:
        return None
    rec = ask_service(service, request, token)
    _err(f"answered by the service at {service.url} (--standalone to load the models here)")
    return rec


@app.command()
def demo(
    workspace: WorkspaceOpt = Path("demo-workspace"),
    as_json: JsonOpt = False,
    train: Annotated[bool, typer.Option(help="train a tiny LoRA adapter on the demo log (once, about a minute) "
                                        "and answer the known user again with it")] = True,
) -> None:
    """Build a demo catalog (films, podcasts, albums with drawn images and spoken audio), ingest it, and answer three
    requests: anonymous, as a user with history, and one that only the image/audio content can answer; then train
    a tiny LoRA adapter on the demo's interaction log and answer the known user with it (--no-train skips that)."""
    from llmrec.demo import run_demo

    recs = run_demo(workspace, progress=_progress, log=lambda s: _err(s), train_adapter=train)
    if as_json:
        typer.echo(json.dumps([{"why": why, **rec.model_dump(mode="json")} for why, rec in recs], indent=2))
        return
    for why, rec in recs:
        typer.echo(f"\n== {why}")
        _print_recommendation(rec)
    typer.echo(f"\nNext: llmrec ask \"your request\" --workspace {workspace}  (add --user ivan to ask as a known user)")


def _register_commands() -> None:
    """Subcommands that live beside their stage; each module imports its heavy dependencies lazily."""
    from llmrec.audit.commands import register as register_audit
    from llmrec.evaluation.commands import register as register_eval
    from llmrec.llm.commands import register as register_models
    from llmrec.retrieval.commands import register as register_fit
    from llmrec.serving.http_commands import register as register_serve
    from llmrec.serving.llm_commands import llm_app
    from llmrec.training.commands import register as register_training

    register_fit(app)
    register_training(app, _progress)
    register_models(app)
    register_eval(app)
    register_audit(app)
    app.add_typer(llm_app, name="llm")
    register_serve(app)


_register_commands()


def main() -> None:
    """Console entry point: run the app, mapping llmrec errors to one line and their exit code."""
    try:
        app(standalone_mode=False)
    except LLMRecError as e:
        if _state["debug"]:
            raise
        _err(f"error: {e}")
        if isinstance(e, CatalogError):
            for p in e.problems[:50]:
                _err(f"  {p}")
            if len(e.problems) > 50:
                _err(f"  … and {len(e.problems) - 50} more")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _err("interrupted; everything committed so far is kept — re-run to continue")
        sys.exit(130)
    except Exception as e:  # click usage errors and the unexpected
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        if _state["debug"]:
            raise
        _err(f"unexpected error: {type(e).__name__}: {e} (re-run with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    main()
