"""``llmrec fit``: train the workspace's collaborative model on its interaction log and index its item vectors.

Registered on the main app by ``llmrec.cli`` through ``register(app)``; heavy imports stay inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from llmrec.cli_options import ConfigOpt, JsonOpt, WorkspaceOpt, load_config


def register(app: typer.Typer) -> None:
    """Add the ``fit`` command to the ``llmrec`` app."""

    @app.command("fit")
    def fit(
        workspace: WorkspaceOpt = Path("workspace"),
        epochs: Annotated[Optional[int], typer.Option(min=1, help="training epochs (default: collaborative.epochs"
                                                      " in the config)")] = None,
        force: Annotated[bool, typer.Option(help="refit even when the data and config match the saved model")]
        = False,
        config: ConfigOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Train the sequential collaborative model (SASRec-style) on the workspace's interactions.

        Saves it to <workspace>/collab (safetensors + manifest.json) and puts its item vectors in the vector store
        beside the text vectors, so `ask` for a known user fuses what similar users chose with the text matches.
        Skipped when the interactions and config are unchanged since the saved model (--force refits).
        `llmrec ingest --interactions` runs this step itself.
        """
        from llmrec.errors import TrainingError
        from llmrec.retrieval.collaborative import fit_collaborative
        from llmrec.workspace import Workspace

        ws = Workspace(workspace)
        cfg = load_config(workspace, config)
        with ws.write_lock():
            report = fit_collaborative(ws, cfg, epochs=epochs, force=force, progress=True,
                                       log=lambda s: typer.echo(s, err=True))
        if report.status == "skipped":
            raise TrainingError(f"nothing to fit in {ws.root}: {report.reason}; add an interaction log with "
                                f"`llmrec ingest CATALOG --interactions LOG.csv --workspace {workspace}`")
        typer.echo(report.model_dump_json(indent=2) if as_json else report.summary())
