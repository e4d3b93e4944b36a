"""What every eval report records about where its numbers came from: library versions and the llmrec commit."""

from __future__ import annotations

import platform
import subprocess
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
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "llmrec", "eval", "prompts"],
                               capture_output=True, text=True, check=True).stdout.strip()
        found["llmrec_commit"] = commit + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        found["llmrec_commit"] = "unknown"
    return found
