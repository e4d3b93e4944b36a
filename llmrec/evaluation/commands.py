"""``llmrec eval``: run the evaluation harness (``eval/llamarec_protocol.py``) from the ``llmrec`` command.

Thin on purpose: the protocol, its reports and their format live in the eval script, which stays runnable on its own
(``python eval/llamarec_protocol.py``). This command finds the script in the source checkout, defaults the data to
``../shared/data/<dataset>`` when present and fails with one clear line when the data is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DATASETS = ("ml-latest-small", "ml-100k", "ml-1m", "csv")


def checkout_root() -> Path:
    """The folder holding ``llmrec/`` and ``eval/`` (a source checkout)."""
    return Path(__file__).resolve().parents[2]


def default_data(dataset: str) -> Path:
    return checkout_root().parent / "shared" / "data" / dataset


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to the ``llmrec`` app."""

    @app.command("eval")
    def evaluate(
        dataset: Annotated[str, typer.Option(help="ml-latest-small, ml-100k, ml-1m or csv (a user_id,item_id,"
                                             "timestamp log given with --data)")] = "ml-latest-small",
        data: Annotated[Optional[Path], typer.Option(help="dataset folder or CSV; default: ../shared/data/DATASET "
                                                     "next to the checkout")] = None,
        out: Annotated[Optional[Path], typer.Option(help="results folder; default: eval/results")] = None,
        methods: Annotated[Optional[str], typer.Option(help="comma-separated subset of popularity,bpr,sasrec")]
        = None,
        variants: Annotated[Optional[str], typer.Option(help="tie rules: item (LlamaRec), row (honest) or both")]
        = None,
        epochs: Annotated[Optional[int], typer.Option(min=1, help="cap training epochs (smoke runs)")] = None,
        seed: Annotated[int, typer.Option(help="seeds initialisation, shuffling and sampling")] = 0,
        threads: Annotated[int, typer.Option(min=1, help="torch CPU threads")] = 2,
    ) -> None:
        """Run the LlamaRec-protocol evaluation (full ranking, leave-one-out, both tie rules) of the retrievers.

        Writes eval/results/<dataset>-llamarec.{json,md} and a Recall@k plot, next to the published anchors.
        About 45 minutes on ml-latest-small on a 2-core CPU; --methods/--epochs make quick trial runs.
        """
        from llmrec.errors import CatalogError, LLMRecError

        if dataset not in DATASETS:
            raise CatalogError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
        if data is None:
            if dataset == "csv":
                raise CatalogError("--dataset csv needs --data PATH to a CSV with user_id,item_id,timestamp columns")
            data = default_data(dataset)
        if not data.exists():
            raise CatalogError(f"evaluation data not found: {data} does not exist; put the {dataset} release there "
                               "(see ../shared/data/README.md) or pass --data PATH")
        argv = ["--dataset", dataset, "--data", str(data), "--seed", str(seed), "--threads", str(threads)]
        for flag, value in (("--out", out), ("--methods", methods), ("--variants", variants), ("--epochs", epochs)):
            if value is not None:
                argv += [flag, str(value)]
        protocol = _load_script("llamarec_protocol")
        try:
            protocol.main(argv)
        except SystemExit as e:  # the script reports bad data and options this way
            if e.code not in (None, 0):
                raise LLMRecError(str(e.code)) from None


def _load_script(name: str):
    """Import ``eval/<name>.py`` from the checkout (eval/ is not part of the installed package)."""
    import importlib.util

    from llmrec.errors import LLMRecError

    path = checkout_root() / "eval" / f"{name}.py"
    if not path.is_file():
        raise LLMRecError(f"{path} not found: `llmrec eval` runs the scripts in eval/ of a source checkout; "
                          "clone the repository and run it there")
    spec = importlib.util.spec_from_file_location(f"llmrec_eval_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
