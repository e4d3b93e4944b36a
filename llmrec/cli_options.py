"""The options several ``llmrec`` commands share, declared once so they are spelled, defaulted and explained alike.

Each command module imports these instead of declaring its own ``--workspace``; a command's default value (e.g.
``demo-workspace`` for ``llmrec demo``) is still its parameter's default. The argparse benchmark drivers take the
same option through ``llmrec.evaluation.options.add_workspace_argument``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from llmrec.config import LLMRecConfig

WORKSPACE_FLAGS = ("--workspace", "-w")
WORKSPACE_ENV = "LLMREC_WORKSPACE"
WORKSPACE_HELP = "workspace folder (made by `llmrec ingest`; holds the items, vectors, models and audit log)"
_workspace = typer.Option(*WORKSPACE_FLAGS, envvar=WORKSPACE_ENV, help=WORKSPACE_HELP)

WorkspaceOpt = Annotated[Path, _workspace]
# For commands that can run without a workspace and only read its settings when given one (`llmrec llm serve`).
OptionalWorkspaceOpt = Annotated[Optional[Path], _workspace]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="TOML config; default: <workspace>/llmrec.toml")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON instead of a summary")]
BackendOpt = Annotated[Optional[str], typer.Option("--backend", help="ranker backend (transformers, vllm)")]
AdapterOpt = Annotated[Optional[str], typer.Option("--adapter", help="LoRA adapter name or folder")]
NoJustifyOpt = Annotated[bool, typer.Option("--no-justify", help="no LLM-written justifications: each item's "
                                            "reasons are stated by the template (the default unless "
                                            "[justification] enabled = true)")]


def load_config(workspace: Path, config: Path | None) -> LLMRecConfig:
    """``--config`` when given, else the workspace's own llmrec.toml, else defaults."""
    from llmrec.config import LLMRecConfig

    path = config if config is not None else Path(workspace) / "llmrec.toml"
    if config is not None or path.is_file():
        return LLMRecConfig.from_toml(path)
    return LLMRecConfig()
