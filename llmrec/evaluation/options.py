"""What every eval driver shares: where data and results live by default, how a driver runs as a script.

Defaults are relative to the current directory, so an installed llmrec and a source checkout behave alike: data in
``$LLMREC_DATA`` or ``../shared/data/<dataset>`` (this project's layout: the checkout beside a shared data folder),
reports in ``eval/results``. Run from the checkout's root, that is the checkout's own ``eval/results``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from llmrec.errors import CatalogError, LLMRecError

DATA_ENV = "LLMREC_DATA"
RESULTS = Path("eval") / "results"


def data_root() -> Path:
    """Where datasets are looked for: ``$LLMREC_DATA``, else ``../shared/data``."""
    return Path(os.environ.get(DATA_ENV) or Path("..") / "shared" / "data").expanduser()


def dataset_path(name: str, given: Path | None = None) -> Path:
    """``given``, else ``<data root>/<name>``; a path that does not exist fails with one line saying where to put
    the data."""
    path = Path(given) if given is not None else data_root() / name
    if not path.exists():
        raise CatalogError(f"evaluation data not found: {path} does not exist. Put the {name} release there (see "
                           f"shared/data/README.md), set {DATA_ENV} to the folder holding it, or pass --data PATH.")
    return path


def script_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser of an ``eval/`` driver: its name and its module docstring as the help, kept as written."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_ml_small_argument(parser: argparse.ArgumentParser) -> None:
    """``--data``: the ml-latest-small folder the sampled-20 benchmarks read (``dataset_path`` finds the default)."""
    parser.add_argument("--data", type=Path, help="ml-latest-small folder; default $LLMREC_DATA/ml-latest-small or "
                                                  "../shared/data/ml-latest-small")


def add_workspace_argument(parser: argparse.ArgumentParser, default: Path) -> None:
    """A driver's ``--workspace``/``-w``, spelled, explained and read from ``$LLMREC_WORKSPACE`` as ``llmrec``'s own
    commands take it (``llmrec.cli_options``)."""
    from llmrec.cli_options import WORKSPACE_ENV, WORKSPACE_FLAGS, WORKSPACE_HELP

    parser.add_argument(*WORKSPACE_FLAGS, dest="workspace", type=Path,
                        default=Path(os.environ.get(WORKSPACE_ENV) or default),
                        help=f"{WORKSPACE_HELP}; default ${WORKSPACE_ENV}, else {default}")


def run_script(main: Callable[[Sequence[str]], int], argv: Sequence[str] | None = None) -> int:
    """Run a driver's ``main`` as a script: an ``LLMRecError`` becomes one ``error: ...`` line and its exit code."""
    try:
        return main(list(sys.argv[1:] if argv is None else argv))
    except LLMRecError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
