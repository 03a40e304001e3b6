"""Atomic file writes shared by every writer (datasets, checkpoints, caches, reports).

A file is written to a temporary sibling, flushed, fsync'ed and renamed over the target, so a
crash never leaves a torn or half-written file. The result gets the mode a plain ``open`` would
give (0o666 minus the umask), not ``mkstemp``'s owner-only 0o600. A failure of the file system
(disk full, permission denied, read-only, file-size limit) raises `OutputError` naming the target
file, and leaves the target as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from robustmsa.errors import OutputError, os_error_text


def default_file_mode() -> int:
    """Mode of a newly created file: 0o666 minus the process umask (read without changing it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object] | bytes) -> Path:
    """Write ``path`` atomically; ``write`` is the bytes, or a function given the open file.

    Raises:
        OutputError: (an `OSError`) the file system refused; the message names ``path``.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"{p}: cannot write ({os_error_text(e)})") from None
    try:
        os.fchmod(fd, default_file_mode())
        with os.fdopen(fd, "wb") as fh:
            if isinstance(write, bytes | bytearray):
                fh.write(write)
            else:
                write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise OutputError(f"{p}: cannot write ({os_error_text(e)})") from None
        raise
    return p


def displayable(text: str) -> str:
    """``text`` with undecodable bytes of a non-UTF-8 path (surrogates) shown as U+FFFD, for
    labels, plots and reports that must be valid text."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def append_line(fd: int, line: str, path: str | os.PathLike) -> int:
    """Append ``line`` (plus a newline) to the file open as ``fd`` (``O_APPEND``): the whole
    record in one ``write`` call where the kernel allows, never truncating what is there.

    Returns:
        The file size after the write (the byte offset just past this record).

    Raises:
        OutputError: the write failed (disk full, file-size limit, ...); names ``path``.
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8", "surrogateescape")
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        return os.fstat(fd).st_size
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({os_error_text(e)})") from None
