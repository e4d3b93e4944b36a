"""Where a number or an artifact came from: the versions that produced it, the command, and how reports are written.

Every manifest (sequential model, LoRA adapter) and every eval report records ``versions()``, so a result can be
traced to the code and libraries that made it.
"""

from __future__ import annotations

import json
import platform
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

DEFAULT_PACKAGES = ("torch", "numpy")


def versions(packages: Sequence[str] = DEFAULT_PACKAGES) -> dict[str, str]:
    """Python, llmrec and ``packages`` versions, plus the git commit when llmrec runs from a checkout (marked when
    llmrec/, eval/ or prompts/ have uncommitted edits; "not a checkout" for an installed wheel)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("llmrec", *packages):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    found["llmrec_commit"] = _commit()
    return found


def _commit() -> str:
    import llmrec

    root = Path(llmrec.__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return "not a checkout"
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "llmrec", "eval", "prompts",
                                ":!eval/results"],  # reports a run writes are outputs, not changed code
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+uncommitted changes" if dirty else "")


def command_line(program: str, argv: Sequence[str]) -> str:
    """The command a report records, e.g. ``python eval/llamarec_protocol.py --seed 1``, quoted for a shell."""
    return " ".join(shlex.quote(a) for a in [*shlex.split(program), *argv])


def write_report(stem: Path, report: dict, markdown: Callable[[dict], str], echo: bool = True) -> None:
    """``<stem>.json`` (everything) and ``<stem>.md`` (the tables); the markdown is also printed. The JSON is
    written first: a run can take an hour, and a fault in rendering its tables must not lose its numbers."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    text = markdown(report)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    if echo:
        print(text)
        print(f"wrote {stem}.json and {stem}.md", file=sys.stderr)
