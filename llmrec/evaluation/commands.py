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
        methods: Annotated[Optional[str], typer.Option(
            help="comma-separated methods. Default set: popularity, bpr, ease, lru+sasrec (LRU and SASRec trained "
                 "as one model), lru+sasrec/lru and lru+sasrec/sasrec (its members scored alone), lru+sasrec+ease "
                 "(that pair fused with EASE: the served retriever), text, image, fusion. Also: sasrec, lru (each "
                 "fitted separately) and sasrec+lru (those two combined)")]
        = None,
        variants: Annotated[Optional[str], typer.Option(help="tie rules: item (LlamaRec), row (honest) or both")]
        = None,
        epochs: Annotated[Optional[int], typer.Option(min=1, help="cap training epochs (smoke runs)")] = None,
        refit: Annotated[bool, typer.Option(help="test the sequential models after retraining on training + "
                                            "validation items for the validated epochs (what a workspace serves "
                                            "with refit_on_all), beside the held-out run's own test numbers")]
        = False,
        seed: Annotated[int, typer.Option(help="seeds initialisation, shuffling and sampling")] = 0,
        threads: Annotated[int, typer.Option(min=1, help="torch CPU threads")] = 2,
        ranker: Annotated[Optional[str], typer.Option(help="evaluate the LLM ranker instead: 'base' (the packaged "
                                                      "model) or an adapter (name under adapters/ or a folder), "
                                                      "re-ranking the SASRec top-20 beside the base model")] = None,
        train_ranker: Annotated[Optional[Path], typer.Option(help="fine-tune an adapter into this folder on the "
                                                             "protocol's training split first, then evaluate it")]
        = None,
        max_train_examples: Annotated[Optional[int], typer.Option(min=1, help="with --train-ranker: cap on "
                                                                  "training examples (default 1000: the 60-minute "
                                                                  "budget here)")] = None,
        force: Annotated[bool, typer.Option("--force", help="with --train-ranker: replace an adapter already in "
                                            "that folder")] = False,
    ) -> None:
        """Run the LlamaRec-protocol evaluation (full ranking, leave-one-out) of the retrievers or of the LLM ranker.

        Retrievers (default): writes eval/results/<dataset>-llamarec.{json,md} and a Recall@k plot, next to the
        published anchors; both tie rules; about 13 minutes on ml-latest-small on an idle 2-core CPU (--methods/--epochs
        make quick trial runs; --refit adds about 3 minutes per tie rule).

        Ranker (--ranker base|ADAPTER or --train-ranker OUT; ml-latest-small): the base model and the adapter
        re-rank the SASRec retriever's top-20; users whose target is outside keep the retriever's rank; also the
        metrics on the re-ranked users alone and sampled-20. Writes eval/results/ml-latest-small-llamarec-ranker.*.
        An adapter made by `llmrec train` on a workspace saw that workspace's whole log; for a leak-free protocol
        number train it here with --train-ranker, which builds examples from the protocol's training split only.
        """
        from llmrec.errors import CatalogError

        if dataset not in DATASETS:
            raise CatalogError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
        if data is None:
            if dataset == "csv":
                raise CatalogError("--dataset csv needs --data PATH to a CSV with user_id,item_id,timestamp columns")
            data = default_data(dataset)
        if not data.exists():
            raise CatalogError(f"evaluation data not found: {data} does not exist; put the {dataset} release there "
                               "(see ../shared/data/README.md) or pass --data PATH")
        if ranker is not None or train_ranker is not None:
            if dataset != "ml-latest-small":
                raise CatalogError("the ranker evaluation runs on ml-latest-small (LlamaRec's benchmark)")
            argv = ["--data", str(data), "--seed", str(seed), "--threads", str(threads)]
            if train_ranker is not None:
                argv += ["--train", str(train_ranker)] + (["--force"] if force else [])
            elif ranker != "base":
                argv += ["--adapter", ranker]
            if max_train_examples is not None:
                argv += ["--max-train-examples", str(max_train_examples)]
            if out is not None:
                argv += ["--out", str(out)]
            _run(load_script("ranker_protocol"), argv)
            return
        argv = ["--dataset", dataset, "--data", str(data), "--seed", str(seed), "--threads", str(threads)]
        for flag, value in (("--out", out), ("--methods", methods), ("--variants", variants), ("--epochs", epochs)):
            if value is not None:
                argv += [flag, str(value)]
        if refit:
            argv.append("--refit")
        _run(load_script("llamarec_protocol"), argv)


def _run(script, argv: list[str]) -> None:
    from llmrec.errors import LLMRecError

    try:
        script.main(argv)
    except SystemExit as e:  # the scripts report bad data and options this way
        if e.code not in (None, 0):
            raise LLMRecError(str(e.code)) from None


def load_script(name: str):
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
