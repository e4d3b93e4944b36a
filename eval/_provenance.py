"""What every eval report records about where its numbers came from (versions, commit), and how it is written."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def versions(packages: tuple[str, ...] = ("torch", "numpy")) -> dict[str, str]:
    """Python and package versions, plus the git commit (marked when llmrec/, eval/ or prompts/ have local edits)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "llmrec", "eval", "prompts",
                                ":!eval/results"],  # reports a run writes are outputs, not changed code
                               capture_output=True, text=True, check=True).stdout.strip()
        found["llmrec_commit"] = commit + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        found["llmrec_commit"] = "unknown"
    return found


def write_report(stem: Path, report: dict, markdown: Callable[[dict], str]) -> None:
    """``<stem>.json`` (everything) and ``<stem>.md`` (the tables); the markdown is also printed."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {stem}.json and {stem}.md", file=sys.stderr)
