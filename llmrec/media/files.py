"""Opening the media files a catalog names, as a catalog written by someone else may name anything.

A path is checked before anything opens it: it must resolve (symbolic links included) inside an allowed folder,
the catalog file's own folder or one of ``[media] roots``, so ``../../etc/passwd``, ``/dev/zero`` or a link pointing
out of the folder are refused without being read. It is then opened component by component beneath that folder
with ``O_NOFOLLOW``, so a link swapped in after the check cannot lead out either; only a regular file is accepted,
judged on the opened descriptor (``fstat``), and its size is checked against ``[media] max_file_mb`` before a byte
is read. ``O_NONBLOCK`` keeps a named pipe from blocking the open, and every read is bounded by the size limit, so
no file (a device, a pipe, a file still growing) can make reading endless.

Every refusal is a ``MediaError`` whose message says what was wrong and what to do; ingest records it on the item,
the HTTP media route answers 404 with it.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from llmrec.errors import MediaError

_CHUNK = 1 << 20
# Flags for every open: never become the controlling terminal, never block on a pipe, never leak into children.
_BASE_FLAGS = os.O_RDONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# Where openat() is missing (Windows), only the last component is opened without following links.
_WALK_BENEATH = _NOFOLLOW != 0 and os.open in os.supports_dir_fd


class MediaFile:
    """An open regular file, at most ``max_bytes`` long, read only through this object.

    ``file`` is what decoders read (Pillow and soundfile take file objects); ``sha256`` hashes the same
    descriptor, so the bytes hashed are the bytes of the file that was checked, whatever the path points at now.
    """

    def __init__(self, fd: int, path: Path, max_bytes: int | None, limit_name: str):
        self.path = path
        self.max_bytes = max_bytes
        self.limit_name = limit_name
        self.file: BinaryIO = os.fdopen(fd, "rb")
        self.size = os.fstat(fd).st_size
        self._sha256: str | None = None

    def __enter__(self) -> MediaFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()

    def rewind(self) -> BinaryIO:
        """The file object, positioned at its first byte."""
        self.file.seek(0)
        return self.file

    def chunks(self) -> Iterable[bytes]:
        """The file's bytes from the start, in 1 MiB chunks; a file that grows past the limit meanwhile is refused."""
        fd, offset = self.file.fileno(), 0
        while chunk := os.pread(fd, _CHUNK, offset):
            offset += len(chunk)
            if self.max_bytes is not None and offset > self.max_bytes:
                raise MediaError(f"refused: the file grew past the {_megabytes(self.max_bytes)} limit "
                                 f"({self.limit_name}) while being read")
            yield chunk

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def sha256(self) -> str:
        """Hex sha256 of the file's bytes (computed once)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            for chunk in self.chunks():
                digest.update(chunk)
            self._sha256 = digest.hexdigest()
        return self._sha256


def allowed_roots(item_root: Path | None, configured: Sequence[Path]) -> list[Path]:
    """The folders an item's media may come from: its catalog's folder (recorded at read time) and ``[media] roots``."""
    return ([item_root] if item_root is not None else []) + list(configured)


def open_confined(path: Path, roots: Sequence[Path], max_bytes: int,
                  limit_name: str = "[media] max_file_mb") -> MediaFile:
    """Open ``path`` for reading only if it resolves inside one of ``roots`` and is a regular file of at most
    ``max_bytes`` (``limit_name`` says where that limit is set); raise ``MediaError`` otherwise, before the file
    itself is opened."""
    path = Path(path)
    root, relative = _confine(path, roots)
    target = root / relative
    _check_before_open(target, max_bytes, limit_name, follow=False)
    try:
        fd = _open_beneath(root, relative) if _WALK_BENEATH else os.open(target, _BASE_FLAGS | _NOFOLLOW)
    except OSError as e:
        raise _open_error(e) from None
    return _checked(fd, path, max_bytes, limit_name)


def open_regular(path: Path, max_bytes: int | None = None, limit_name: str = "[media] max_file_mb") -> MediaFile:
    """Open a file the caller chose (no folder confinement): still only a regular file, never blocking, and at most
    ``max_bytes`` long when given. For paths that come from a catalog, use ``open_confined``."""
    path = Path(path)
    _check_before_open(path, max_bytes, limit_name, follow=True)
    try:
        fd = os.open(path, _BASE_FLAGS)
    except OSError as e:
        raise _open_error(e) from None
    return _checked(fd, path, max_bytes, limit_name)


@contextmanager
def opened_media(source: Path | BinaryIO) -> Iterator[BinaryIO]:
    """The file a decoder reads: ``source`` itself when it is an open file (what ingest passes, already checked by
    ``open_confined``), else the regular file at that path (``open_regular``); either way rewound, and refused when
    empty so that every decoder reports an empty file the same way rather than as its own format error."""
    if isinstance(source, (str, Path)):
        with open_regular(Path(source)) as media, opened_media(media.rewind()) as opened:
            yield opened
        return
    source.seek(0, io.SEEK_END)
    if source.tell() == 0:
        raise MediaError("empty file (0 bytes)")
    source.seek(0)
    yield source


# ------------------------------------------------------------------------------------------------------ internals


def _confine(path: Path, roots: Sequence[Path]) -> tuple[Path, Path]:
    """(resolved root, relative path beneath it) of the first root that holds ``path`` once every link is resolved.

    ``os.path.realpath`` only lstats and reads links; it never opens the file, so a device or a pipe is untouched.
    """
    if not path.is_absolute():
        # Catalog readers make paths absolute against the catalog's folder; a relative one here has no anchor.
        raise MediaError("refused: a relative path with no catalog folder to resolve it against")
    resolved = Path(os.path.realpath(path))
    for root in roots:
        real_root = Path(os.path.realpath(Path(root).expanduser()))
        if resolved == real_root:
            raise MediaError("refused: a folder, not a regular file")
        if resolved.is_relative_to(real_root):
            return real_root, resolved.relative_to(real_root)
    where = ", ".join(str(r) for r in roots) if roots else ("none: the item records no catalog folder (ingested by an "
                                                             "older llmrec? re-ingest its catalog) and [media] roots "
                                                             "is empty")
    via_link = "" if resolved == path else f"it resolves to {resolved}, "
    raise MediaError(f"refused: {via_link}outside the allowed media folders ({where}); move the file into the "
                     "catalog's folder or add its folder to [media] roots")


def _check_before_open(target: Path, max_bytes: int | None, limit_name: str, follow: bool) -> None:
    """Refuse what is visibly not a regular file, or too large, without opening it (opening a device can act)."""
    try:
        info = os.stat(target) if follow else os.lstat(target)
    except OSError as e:
        raise _open_error(e) from None
    _check_stat(info, max_bytes, limit_name)


def _checked(fd: int, path: Path, max_bytes: int | None, limit_name: str) -> MediaFile:
    """The descriptor's own fstat decides: whatever the path pointed at before, this is what will be read."""
    try:
        _check_stat(os.fstat(fd), max_bytes, limit_name)
        return MediaFile(fd, path, max_bytes, limit_name)
    except BaseException:
        os.close(fd)
        raise


def _check_stat(info: os.stat_result, max_bytes: int | None, limit_name: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise MediaError(f"refused: {_kind(info.st_mode)}, not a regular file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise MediaError(f"refused: {_megabytes(info.st_size)}, over the {_megabytes(max_bytes)} limit "
                         f"({limit_name})")


def _open_beneath(root: Path, relative: Path) -> int:
    """Open ``root/relative`` one component at a time with O_NOFOLLOW: a component replaced by a symbolic link
    since ``_confine`` resolved the path fails to open (ELOOP) instead of being followed out of ``root``."""
    dir_fd = os.open(root, _BASE_FLAGS | _DIRECTORY)
    try:
        for part in relative.parts[:-1]:
            next_fd = os.open(part, _BASE_FLAGS | _DIRECTORY | _NOFOLLOW, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        return os.open(relative.parts[-1], _BASE_FLAGS | _NOFOLLOW, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _open_error(e: OSError) -> MediaError:
    if e.errno == errno.ENOENT:
        return MediaError("file not found")
    if e.errno in (errno.ELOOP, errno.ENOTDIR):
        return MediaError("refused: the path changed into or through a symbolic link while being opened")
    return MediaError(f"cannot read file: {e.strerror or e}")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a plain file"


def _megabytes(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n < 2**30 else f"{n / 2**30:,.1f} GiB"
