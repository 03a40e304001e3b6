"""Atomic file writes shared by every writer (datasets, checkpoints, caches, reports).

A file is written to a temporary sibling, flushed, fsync'ed and renamed over the target, so a
crash never leaves a torn or half-written file. The result gets the mode a plain ``open`` would
give (0o666 minus the umask), not ``mkstemp``'s owner-only 0o600.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


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
    """Write ``path`` atomically; ``write`` is the bytes, or a function given the open file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
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
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p
