"""Catalog (JSONL/JSON array/CSV/TSV) and interaction-log (CSV/TSV) readers with row-level validation.

A bad row never aborts the file: it is skipped and reported as ``file:line: field: message`` so a user can fix every
problem in one pass. ``strict=True`` turns any problem into a ``CatalogError`` before anything is stored.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.catalog.interactions import InteractionLog
from llmrec.catalog.schema import CatalogItem
from llmrec.config import CatalogConfig
from llmrec.errors import CatalogError

_MEDIA_KEYS = {"image": "images", "images": "images", "audio": "audio"}
_RESERVED = {"id", "title", "metadata", *_MEDIA_KEYS}
# CSV cells can hold several media paths separated by these.
_PATH_SEPARATORS = ("|", ";")
_BLANK = re.compile(r"[ \t\n]*")  # JSON whitespace (carriage returns are gone by then)


@dataclass
class ReadResult:
    """Rows that passed validation, and every problem found in the others."""

    items: list[CatalogItem] = field(default_factory=list)
    interactions: InteractionLog = field(default_factory=InteractionLog.empty)
    problems: list[str] = field(default_factory=list)

    def raise_if(self, strict: bool, what: str) -> None:
        if strict and self.problems:
            raise CatalogError(f"{what}: {len(self.problems)} invalid row(s); nothing was stored", self.problems)


def _decoded_lines(path: Path, problems: list[str]) -> list[tuple[int, str]]:
    """Lines of a file as (1-based line number, text); lines that are not UTF-8 are reported and dropped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CatalogError(f"{path} does not exist") from None
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    # Windows (\r\n) and classic Mac / Excel-for-Mac (lone \r) line endings count as one line break each.
    raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines: list[tuple[int, str]] = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            lines.append((number, chunk.decode("utf-8")))
        except UnicodeDecodeError as e:
            problems.append(f"{path.name}:{number}: not valid UTF-8 (byte {e.start}); re-save the file as UTF-8")
    return lines


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, (dict,)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _media_paths(value: Any, base: Path, where: str, key: str) -> list[Path]:
    """Paths as written, joined to the catalog's folder. Nothing is resolved or opened here: whether a path may be
    read (inside ``base`` or ``[media] roots``, a regular file) is decided when it is opened
    (``llmrec.media.files``)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        parts = [value]
        for sep in _PATH_SEPARATORS:
            if sep in value:
                parts = [p for p in value.split(sep)]
                break
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = value
    else:
        raise ValueError(f"{where}: {key}: must be a path or a list of paths")
    paths = []
    for p in (s.strip() for s in parts):
        if not p:
            continue
        path = Path(p).expanduser()
        paths.append(path if path.is_absolute() else (base / path))
    return paths


def _build_item(row: dict[str, Any], base: Path, where: str, config: CatalogConfig) -> CatalogItem:
    """Validate one parsed row; raises ValueError with a ``where: field: message`` text."""
    raw_id = row.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise ValueError(f"{where}: id: missing (every item needs a non-empty id)")
    if isinstance(raw_id, (dict, list, bool)) or (isinstance(raw_id, float) and not raw_id.is_integer()):
        raise ValueError(f"{where}: id: must be a string or an integer, got {type(raw_id).__name__}")
    item_id = str(int(raw_id) if isinstance(raw_id, float) else raw_id).strip()
    if len(item_id) > 256:
        raise ValueError(f"{where}: id: longer than 256 characters")
    title = _as_text(row.get("title")).strip()
    if not title:
        raise ValueError(f"{where}: title: missing (every item needs a title)")
    warnings: list[str] = []
    fields: dict[str, str] = {}
    for key, value in row.items():
        if key in _RESERVED or key is None:
            continue
        text = _as_text(value).strip()
        if not text:
            continue
        if len(text) > config.max_field_chars:
            warnings.append(f"{key}: {len(text):,} characters truncated to {config.max_field_chars:,}")
            text = text[: config.max_field_chars]
        fields[str(key)] = text
    if len(title) > 1000:
        warnings.append(f"title: {len(title):,} characters truncated to 1,000")
        title = title[:1000]
    images: list[Path] = []
    audio: list[Path] = []
    for key, target in _MEDIA_KEYS.items():
        if key in row:
            paths = _media_paths(row[key], base, where, key)
            (images if target == "images" else audio).extend(paths)
    metadata = row.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            raise ValueError(f"{where}: metadata: not valid JSON") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{where}: metadata: must be a JSON object")
    return CatalogItem(id=item_id, title=title, fields=fields, images=images, audio=audio, metadata=metadata,
                       warnings=warnings, source=where, media_root=base if images or audio else None)


def _jsonl_rows(path: Path, lines: list[tuple[int, str]], config: CatalogConfig, problems: list[str]):
    for number, line in lines:
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        if len(line) > config.max_row_bytes:
            problems.append(f"{where}: row is {len(line):,} bytes, over the {config.max_row_bytes:,} limit")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not valid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{where}: each line must be a JSON object")
            continue
        yield where, row


def _json_array_rows(path: Path, lines: list[tuple[int, str]], config: CatalogConfig, problems: list[str]):
    """Objects of a ``.json`` file holding one top-level array, each located by the line it starts on.

    Elements are decoded one at a time so a problem names its line and each element is held to ``max_row_bytes``
    like a JSONL line; a syntax error ends the array (nothing after it can be trusted), like malformed CSV.
    """
    text = "\n".join(line for _, line in lines)
    numbers = [n for n, _ in lines]
    breaks = [m.start() for m in re.finditer("\n", text)]

    def where(offset: int) -> str:
        return f"{path.name}:{numbers[bisect.bisect(breaks, offset)]}"

    decoder = json.JSONDecoder()
    pos = _BLANK.match(text, _BLANK.match(text).end() + 1).end()  # past the opening "["
    while not text.startswith("]", pos):
        start = pos
        try:
            row, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            problems.append(f"{where(e.pos)}: not valid JSON ({e.msg}); the rest of the array was not read")
            return
        if pos - start > config.max_row_bytes:
            problems.append(f"{where(start)}: row is {pos - start:,} bytes, over the {config.max_row_bytes:,} limit")
        elif not isinstance(row, dict):
            problems.append(f"{where(start)}: each element of the array must be a JSON object")
        else:
            yield where(start), row
        pos = _BLANK.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _BLANK.match(text, pos + 1).end()
        elif not text.startswith("]", pos):
            problems.append(f"{where(pos)}: not valid JSON (expected ',' or ']' after an element); "
                            "the rest of the array was not read")
            return


def _csv_reader(path: Path, problems: list[str]) -> tuple[csv.DictReader, list[int]]:
    """A DictReader over the decoded file (tab-separated for ``.tsv``), and the file's line number of each line it
    reads (see ``_file_line``)."""
    lines = _decoded_lines(path, problems)
    text = "\n".join(line for _, line in lines)
    numbers = [n for n, _ in lines]
    reader = csv.DictReader(io.StringIO(text), dialect="excel-tab" if path.suffix.lower() == ".tsv" else "excel")
    try:
        reader.fieldnames  # reads the header, which can already be malformed
    except csv.Error as e:
        raise CatalogError(f"{path.name}:{_file_line(reader, numbers)}: malformed header ({e})") from None
    return reader, numbers


def _file_line(reader: csv.DictReader, numbers: list[int]) -> int:
    # reader.line_num counts physical lines read so far; map back to the file's own numbering.
    return numbers[min(max(reader.line_num, 1), len(numbers)) - 1]


def _csv_rows(path: Path, config: CatalogConfig, problems: list[str]):
    csv.field_size_limit(max(config.max_row_bytes, 131072))
    reader, numbers = _csv_reader(path, problems)
    if reader.fieldnames is None:
        return
    missing = {"id", "title"} - set(reader.fieldnames)
    if missing:
        raise CatalogError(f"{path.name}:1: header lacks required column(s) {', '.join(sorted(missing))}; "
                           f"found {', '.join(reader.fieldnames)}")
    try:
        for row in reader:
            n = _file_line(reader, numbers)
            if None in row:
                problems.append(f"{path.name}:{n}: more cells than header columns")
                continue
            yield f"{path.name}:{n}", {k: v for k, v in row.items() if v is not None}
    except csv.Error as e:
        problems.append(f"{path.name}:{_file_line(reader, numbers)}: malformed CSV ({e}); "
                        "rows after it were not read")


def read_catalog(path: str | Path, config: CatalogConfig | None = None, strict: bool = False) -> ReadResult:
    """Read a JSONL (``.jsonl``/``.ndjson``/``.json``), JSON array (``.json``), CSV or TSV catalog.

    Duplicate ids keep the first row. A file with problems but no valid row is a ``CatalogError``: ingesting
    nothing and reporting success would hide that the whole file was rejected.
    """
    path = Path(path)
    config = config or CatalogConfig()
    if not path.is_file():
        raise CatalogError(f"catalog {path} does not exist or is not a file")
    suffix = path.suffix.lower()
    result = ReadResult()
    if suffix in (".jsonl", ".ndjson", ".json"):
        lines = _decoded_lines(path, result.problems)
        first = next((line for _, line in lines if line.strip()), "")
        # A .json file may also hold one array of objects (what most tools export); JSON Lines never starts with "[".
        is_array = suffix == ".json" and first.lstrip().startswith("[")
        rows = (_json_array_rows if is_array else _jsonl_rows)(path, lines, config, result.problems)
    elif suffix in (".csv", ".tsv"):
        rows = _csv_rows(path, config, result.problems)
    else:
        raise CatalogError(f"{path}: unknown catalog format {suffix!r}; use .jsonl or .csv")
    seen: dict[str, str] = {}
    base = path.parent.resolve()
    for where, row in rows:
        try:
            item = _build_item(row, base, where, config)
        except ValueError as e:
            result.problems.append(str(e))
            continue
        if item.id in seen:
            result.problems.append(f"{where}: id: duplicate id {item.id!r} (first seen at {seen[item.id]}); "
                                   "row skipped")
            continue
        seen[item.id] = where
        result.items.append(item)
    result.raise_if(strict, f"catalog {path}")
    if not result.items and result.problems:
        shown = "; ".join(result.problems[:3])
        raise CatalogError(f"catalog {path}: every row was rejected ({len(result.problems)} problem(s), first: "
                           f"{shown}); nothing was stored", result.problems)
    if not result.items:
        raise CatalogError(f"catalog {path} has no rows")
    return result


def read_interactions(path: str | Path, strict: bool = False) -> ReadResult:
    """Read a CSV (or tab-separated ``.tsv``) interaction log ``user_id,item_id,timestamp[,rating]``.

    Timestamps may be numbers (epoch seconds) or ISO-8601 strings. ``row`` keeps file order for honest tie-breaking.
    Each row is validated on its own (so every bad row is named); the valid ones come back as one columnar log.
    """
    from datetime import datetime

    path = Path(path)
    result = ReadResult()
    columns: tuple[list, ...] = ([], [], [], [], [])  # user ids, item ids, timestamps, ratings, rows
    reader, numbers = _csv_reader(path, result.problems)
    required = {"user_id", "item_id", "timestamp"}
    if reader.fieldnames is None or not required <= set(reader.fieldnames):
        raise CatalogError(f"{path.name}:1: header must contain user_id,item_id,timestamp[,rating]; "
                           f"found {','.join(reader.fieldnames or [])}")
    try:
        for index, row in enumerate(reader):
            where = f"{path.name}:{_file_line(reader, numbers)}"
            user, item, ts = ((row.get(k) or "").strip() for k in ("user_id", "item_id", "timestamp"))
            if not user:
                result.problems.append(f"{where}: user_id: missing")
                continue
            if not item:
                result.problems.append(f"{where}: item_id: missing")
                continue
            try:
                stamp = float(ts)
            except ValueError:
                try:
                    stamp = datetime.fromisoformat(ts).timestamp()
                except ValueError:
                    result.problems.append(f"{where}: timestamp: {ts[:40]!r} is neither a number nor ISO-8601")
                    continue
            if not math.isfinite(stamp):
                result.problems.append(f"{where}: timestamp: must be finite")
                continue
            rating = None
            raw_rating = (row.get("rating") or "").strip()
            if raw_rating:
                try:
                    rating = float(raw_rating)
                except ValueError:
                    result.problems.append(f"{where}: rating: {raw_rating[:20]!r} is not a number")
                    continue
            for column, value in zip(columns, (user, item, stamp, rating, index)):
                column.append(value)
    except csv.Error as e:
        result.problems.append(f"{path.name}:{_file_line(reader, numbers)}: malformed CSV ({e}); "
                               "rows after it were not read")
    result.interactions = InteractionLog.from_columns(*columns)
    result.raise_if(strict, f"interaction log {path}")
    return result
