"""``llmrec eval``: run the evaluation protocols (``llmrec.evaluation.llamarec``, ``llmrec.evaluation.ranker``).

Thin on purpose: the protocols, their reports and their format live in the package (``eval/*.py`` are the same
drivers as scripts), so an installed llmrec runs them as well as a checkout. The data defaults to
``$LLMREC_DATA/<dataset>`` or ``../shared/data/<dataset>``, reports go to ``eval/results`` (both relative to the
current directory), and missing data fails with one clear line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DATASETS = ("ml-latest-small", "ml-100k", "ml-1m", "csv")


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to the ``llmrec`` app."""

    @app.command("eval")
    def evaluate(
        dataset: Annotated[str, typer.Option(help="ml-latest-small, ml-100k, ml-1m or csv (a user_id,item_id,"
                                             "timestamp log given with --data)")] = "ml-latest-small",
        data: Annotated[Optional[Path], typer.Option(help="dataset folder or CSV; default: $LLMREC_DATA/DATASET or "
                                                     "../shared/data/DATASET")] = None,
        out: Annotated[Optional[Path], typer.Option(help="results folder; default: eval/results (in the current "
                                                    "folder)")] = None,
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
        requests: Annotated[bool, typer.Option("--requests", help="run the request benchmark instead: are the "
                                               "conditions requests state (genre, years, people, length, 'not a "
                                               "comedy', 'like X') honoured? demo, ml-100k and ml-latest-small "
                                               "request sets; writes eval/results/requests.{json,md}")] = False,
        request_sets: Annotated[Optional[str], typer.Option("--request-sets", help="with --requests: comma-"
                                                            "separated sets (demo, ml-100k, ml-latest-small)")]
        = None,
        no_served: Annotated[bool, typer.Option("--no-served", help="with --requests: skip the served pipeline "
                                                "(the LLM ranker)")] = False,
        served_sample: Annotated[Optional[int], typer.Option("--served-sample", min=1, help="with --requests: run "
                                                             "the served pipeline on N requests spread over each "
                                                             "set (one LLM pass each), the rules beside it on the "
                                                             "same N")] = None,
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
        from llmrec.evaluation.options import dataset_path

        if requests:
            from llmrec.evaluation.requests import main as requests_main

            argv = (["--data", str(data)] if data else []) + (["--out", str(out)] if out else [])
            argv += (["--sets", request_sets] if request_sets else []) + (["--no-served"] if no_served else []) \
                + (["--served-sample", str(served_sample)] if served_sample else [])
            requests_main(argv)
            return
        if dataset not in DATASETS:
            raise CatalogError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
        if data is None and dataset == "csv":
            raise CatalogError("--dataset csv needs --data PATH to a CSV with user_id,item_id,timestamp columns")
        data = dataset_path(dataset, data).resolve()
        if ranker is not None or train_ranker is not None:
            from llmrec.evaluation.ranker.run import main as ranker_main

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
            ranker_main(argv)  # recorded as the equivalent `python eval/ranker_protocol.py ...`
            return
        from llmrec.evaluation.llamarec.run import main as llamarec_main

        argv = ["--dataset", dataset, "--data", str(data), "--seed", str(seed), "--threads", str(threads)]
        for flag, value in (("--out", out), ("--methods", methods), ("--variants", variants), ("--epochs", epochs)):
            if value is not None:
                argv += [flag, str(value)]
        if refit:
            argv.append("--refit")
        llamarec_main(argv, program="llmrec eval")  # every flag passed on is one of llmrec eval's
