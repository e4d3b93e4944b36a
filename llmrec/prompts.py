"""Prompts are data: Jinja2 templates in ``prompts/``, rendered here and nowhere else.

Every rendering carries the template's name and sha256 so each recommendation records exactly which prompt text
produced it. A template may mark where its static head ends with ``{{ static_end }}``: everything before the
mark is the same in every rendering (system text, instructions), so a backend can compute it once and reuse its
keys/values (``RenderedPrompt.static_prefix``); the mark itself is not part of the text.

Catalog text passes through ``clean`` before it reaches a prompt: control characters removed, whitespace collapsed,
the ``<<< >>>`` delimiters neutralised, so item text cannot break out of its quoted slot. Every
catalog-derived string a template shows (titles, card text, history) sits between ``<<< >>>``, the slots the system
messages call data; where one lands inside JSON (the justifier's forced frame) it goes through ``json_string``
instead, so no id can end the string early.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

from llmrec.errors import ConfigError

# Where a template's static head ends (``{{ static_end }}``): a private-use character that ``clean`` removes from
# every quoted text, so no catalog or request text can move it.
STATIC_END = "\ue000"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ue000]")
_SPACE = re.compile(r"[ \t\r\f\v]+")


def prompts_dir() -> Path:
    """Installed wheels carry ``llmrec/_prompts`` (package data); a source checkout uses the top-level ``prompts/``."""
    package = Path(str(resources.files("llmrec")))
    for candidate in (package / "_prompts", package.parent / "prompts"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("prompt templates not found (expected llmrec/_prompts or prompts/ beside the package)")


_EVIDENCE_WORDS = re.compile(r"similar\s+(?=(users|taste)\b)", re.IGNORECASE)


def clean(text: object, multiline: bool = False, limit: int = 4000, quoted: bool = False) -> str:
    """Make catalog or user text safe to quote inside a prompt.

    ``quoted``: the text sits between double quotes, so its own ``"`` become ``'`` and cannot close them.
    """
    s = _CONTROL.sub(" ", str(text))
    s = s.replace("<<<", "«").replace(">>>", "»")
    # The ranking prompt's computed collaborative evidence is written in these words; catalog text cannot borrow
    # them to pass itself off as that evidence ("similar users: very high").
    s = _EVIDENCE_WORDS.sub("similar-minded ", s)
    if quoted:
        s = s.replace('"', "'")
    if multiline:
        s = "\n".join(_SPACE.sub(" ", line).strip() for line in s.split("\n") if line.strip())
    else:
        s = _SPACE.sub(" ", s.replace("\n", " ")).strip()
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


def json_string(text: object) -> str:
    """``text`` as one JSON string literal, quotes included, for catalog text inside a JSON frame a prompt forces.

    Unlike Jinja's ``tojson`` it leaves non-ASCII and ``<>&'`` as they are (escaping is for HTML, not for a model),
    so an id that needs no escaping renders exactly as it reads.
    """
    return json.dumps(str(text), ensure_ascii=False)


def _fieldname(name: object) -> str:
    s = re.sub(r"[_\s]+", " ", clean(name)).strip()
    return s[:1].upper() + s[1:] if s else s


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt's text plus what produced it."""

    text: str
    template: str
    template_sha256: str
    static_prefix: str = ""  # the head of ``text`` that is identical in every rendering of the template


class PromptLibrary:
    """Loads and renders the templates of one prompts folder."""

    def __init__(self, directory: Path | None = None, chat: Callable[[list[dict]], str] | None = None):
        import jinja2

        self.directory = Path(directory) if directory else prompts_dir()
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(self.directory)),
                                      undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self.env.filters["clean"] = clean
        self.env.filters["fieldname"] = _fieldname
        self.env.filters["json_string"] = json_string
        self._chat = chat or plain_chat

    def sha256(self, name: str) -> str:
        return hashlib.sha256((self.directory / name).read_bytes()).hexdigest()

    def has(self, name: str) -> bool:
        return (self.directory / name).is_file()

    def variables(self, name: str) -> set[str]:
        """The variables a template reads (besides ``chat``), from its source: what a caller must provide."""
        import jinja2.meta

        source = self._template(name).filename
        ast = self.env.parse(Path(source).read_text(encoding="utf-8"))
        return jinja2.meta.find_undeclared_variables(ast) - {"chat", "static_end"}

    def _template(self, name: str):
        import jinja2

        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound:
            raise ConfigError(f"prompt template {name!r} not found in {self.directory}") from None

    def render(self, name: str, **variables) -> RenderedPrompt:
        text = self._template(name).render(chat=self._chat, static_end=STATIC_END, **variables)
        head, marked, _ = text.partition(STATIC_END)
        return RenderedPrompt(text=text.replace(STATIC_END, ""), template=name, template_sha256=self.sha256(name),
                              static_prefix=head if marked else "")

    def with_chat(self, chat: Callable[[list[dict]], str]) -> "PromptLibrary":
        """The same templates rendered with a model's own chat format."""
        return PromptLibrary(self.directory, chat)


def plain_chat(messages: list[dict]) -> str:
    """Chat formatting for models without a template (and for cards, which need none)."""
    return "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant: "


@lru_cache(maxsize=1)
def default_library() -> PromptLibrary:
    return PromptLibrary()
