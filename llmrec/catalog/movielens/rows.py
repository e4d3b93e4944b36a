"""Reading GroupLens' delimited files: CSV with quotes, ``|``, tab and ``::`` separated, UTF-8 or latin-1.

A malformed row is never skipped silently: public copies of MovieLens are known to be edited, so a read fails
naming every bad line (the first ``MAX_PROBLEMS_SHOWN`` of them).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from llmrec.errors import CatalogError

MAX_PROBLEMS_SHOWN = 20


def open_text(path: Path, encoding: str):
    try:
        # newline="" keeps the csv module in charge of line endings; harmless for the plain-split readers.
        return path.open(encoding=encoding, newline="")
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror}") from None


def read_text(path: Path, encoding: str) -> str:
    try:
        return path.read_text(encoding=encoding)
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise CatalogError(f"{path}: not valid {encoding} (byte {e.start})") from None


def delimited_rows(path: Path, separator: str, encoding: str, header: bool) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line number, cells) of a file, skipping blank lines (and the header when there is one)."""
    with open_text(path, encoding) as f:
        if separator == ",":
            lines = csv.reader(f)  # quoted titles with commas ("American President, The (1995)")
            for cells in lines:
                if lines.line_num == 1 and header:
                    continue
                if cells:
                    yield lines.line_num, cells
            return
        for number, line in enumerate(f, start=1):
            if number == 1 and header:
                continue
            line = line.rstrip("\r\n")
            if line:
                yield number, line.split(separator)


def checked_rows(path: Path, separator: str, encoding: str, header: bool,
                 width: int) -> list[tuple[int, list[str]]]:
    """Rows with at least ``width`` cells and a non-empty id; any other row fails the read, naming every bad line."""
    problems = []
    rows = []
    for number, cells in delimited_rows(path, separator, encoding, header):
        if len(cells) < width or not cells[0].strip() or not cells[1].strip():
            problems.append(f"{path.name}:{number}: expected {width} cells with an id and a title, "
                            f"found {separator.join(cells)[:80]!r}")
            continue
        rows.append((number, cells))
    if problems:
        raise CatalogError(f"{path}: {len(problems)} malformed movie row(s)", capped(problems))
    return rows


def pipe_genres(cell: str) -> list[str]:
    return [g.strip() for g in cell.split("|") if g.strip()]


def capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS_SHOWN:
        return problems
    return problems[:MAX_PROBLEMS_SHOWN] + [f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more"]
