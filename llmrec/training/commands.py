"""CLI: ``llmrec train`` and ``llmrec adapters list|show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from llmrec.cli_options import ConfigOpt, WorkspaceOpt, load_config

adapters_app = typer.Typer(help="List and inspect trained LoRA adapters (adapters/NAME).", no_args_is_help=True)


def register(app: typer.Typer, progress) -> None:
    @app.command()
    def train(
        out: Annotated[Path, typer.Option("--out", help="adapter folder, e.g. adapters/movies-v1")],
        workspace: WorkspaceOpt = Path("workspace"),
        interactions: Annotated[Optional[Path], typer.Option(help="extra interaction log CSV to add first")] = None,
        base: Annotated[str, typer.Option(help="base model: 'default' (the ranker's), a named model (llmrec "
                                          "models: smollm2-135m, qwen2.5-coder-0.5b, ...) or a folder")] = "default",
        epochs: Annotated[Optional[int], typer.Option(min=1, help="passes over the training examples")] = None,
        max_examples: Annotated[Optional[int], typer.Option(min=1, help="cap on training examples")] = None,
        resume: Annotated[bool, typer.Option(help="continue an interrupted run from its last checkpoint")] = False,
        force: Annotated[bool, typer.Option("--force", help="replace a finished adapter already in --out, or "
                                            "restart over a checkpoint made with other data or settings")] = False,
        config: ConfigOpt = None,
    ) -> None:
        """Fine-tune a LoRA adapter for the ranker on the workspace's interaction log (the train settings).

        Examples come from each user's history: the retriever's top candidates (hard negatives) plus the true next
        item; the model learns to answer its letter. Validation NDCG@10 on held-out items picks the best step and
        stops early. Ctrl-C or a crash loses at most the steps since the last checkpoint: re-run with --resume.
        """
        from llmrec.training.run import train_adapter
        from llmrec.workspace import Workspace

        Workspace(workspace)  # a missing or foreign folder fails here with the workspace's own message
        cfg = load_config(workspace, config)
        if max_examples:
            cfg.train.max_train_examples = max_examples
        manifest = train_adapter(workspace, out, base, interactions, epochs, resume, cfg, progress=progress,
                                 log=lambda s: typer.echo(s, err=True), overwrite=force)
        m = manifest["metrics"]
        typer.echo(f"adapter saved to {out}: best validation NDCG@10 {m['best_valid_ndcg@10']:.4f} at step "
                   f"{m['best_step']} ({m['train_examples']} train / {m['valid_examples']} valid examples)")
        typer.echo(f"use it: llmrec ask \"...\" --workspace {workspace} --adapter {out}")
        if cfg.train.retrieval_prior:
            typer.echo(f"it was trained as a residual over the retriever's order: serve it with [ranker] "
                       f"retrieval_prior = {cfg.train.retrieval_prior:g}, as it was validated")

    app.add_typer(adapters_app, name="adapters")


@adapters_app.command("list")
def list_cmd(folder: Annotated[Optional[Path], typer.Option(help="adapters folder")] = None) -> None:
    """Adapters with their base model and best validation NDCG@10."""
    from llmrec.llm.adapters import list_adapters

    rows = list_adapters(folder)
    if not rows:
        typer.echo("no adapters yet: train one with `llmrec train --workspace WS --out adapters/NAME`")
    for name, manifest in rows:
        if manifest is None:
            typer.echo(f"{name}: (no manifest)")
        else:
            m = manifest.metrics
            typer.echo(f"{name}: base {manifest.base_model}, valid NDCG@10 {m.get('best_valid_ndcg@10', 0):.4f},"
                       f" data {manifest.data_hash}, {manifest.created_at}")


@adapters_app.command("show")
def show_cmd(name: Annotated[str, typer.Argument(help="adapter name under adapters/ or a folder")]) -> None:
    """The full manifest of one adapter."""
    from llmrec.llm.adapters import read_manifest, resolve_adapter

    typer.echo(read_manifest(resolve_adapter(name)).to_json())
