"""Run directories: never overwrite or interleave a run by accident.

Rules (``robustmsa train --out DIR``; `robustmsa.engine.trainer.Trainer.fit`):

- **Fresh runs** need ``DIR`` to be absent or empty. A directory holding anything else is
  refused unless ``--resume`` (continue the run in it) or ``--overwrite`` (delete the run's own
  files — `RUN_FILES` — first; other files are left alone) is given.
- **Lock**: a running ``train`` holds an exclusive ``fcntl.flock`` on ``DIR/.lock`` (the file
  holds the owner's pid, for the message). A second ``train`` on the same directory fails at
  once with one line naming the directory and the pid. The kernel releases the lock when its
  process ends, however it ends (crash, ``kill -9``), so there is no stale lock to clean up: the
  ``.lock`` file left behind is inert. Where ``fcntl`` is missing (Windows) the lock is an
  ``O_EXCL``-created ``.lock`` file removed at the end; one whose pid is no longer running is
  taken over (stale).
- **Resume** (``--resume``) continues from ``DIR/last.pt``. The config may differ from the
  run's only in `SAFE_RESUME_FIELDS` (e.g. ``train.epochs`` to extend a run); any other
  difference is refused, naming each differing field with both values.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from robustmsa.errors import OutputError, RunDirError, os_error_text

logger = logging.getLogger(__name__)

#: the files a run writes (what ``--overwrite`` deletes)
RUN_FILES: tuple[str, ...] = ("config.yaml", "env.json", "metrics.jsonl",
                              "metrics.interrupted.jsonl", "summary.json", "best.pt", "last.pt")
LOCK_NAME = ".lock"
#: config fields ``--resume`` accepts changed: they do not change what was trained so far
SAFE_RESUME_FIELDS: tuple[str, ...] = (
    "train.epochs", "train.patience", "train.progress", "train.log_every", "train.device",
    "name",
)


def _contents(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_NAME)


def check_run_dir(run_dir: str | os.PathLike, *, resume: bool = False,
                  overwrite: bool = False) -> None:
    """Refuse to start in ``run_dir`` unless the flags allow it (read-only check).

    Raises:
        RunDirError: both flags; ``run_dir`` is a file; it holds files and neither flag is
            given; ``--resume`` without ``last.pt``.
    """
    p = Path(run_dir)
    if resume and overwrite:
        raise RunDirError("give --resume (continue the run) or --overwrite (replace it), not both")
    if p.exists() and not p.is_dir():
        raise RunDirError(f"{p}: exists and is not a directory")
    if resume:
        if not (p / "last.pt").is_file():
            raise RunDirError(f"{p / 'last.pt'}: nothing to resume from")
        return
    if p.is_dir() and not overwrite:
        try:
            names = _contents(p)
        except OSError as e:
            raise OutputError(f"{p}: cannot list the run directory ({os_error_text(e)})") from None
        if names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise RunDirError(
                f"{p}: already holds files ({shown}); use --resume to continue that run, "
                "--overwrite to replace it, or another --out"
            )


def clear_run_files(run_dir: Path) -> list[str]:
    """Delete the run's own files (`RUN_FILES`) from ``run_dir`` (``--overwrite``)."""
    gone = []
    for name in RUN_FILES:
        f = run_dir / name
        try:
            if f.is_file() or f.is_symlink():
                f.unlink()
                gone.append(name)
        except OSError as e:
            raise OutputError(f"{f}: cannot delete it to overwrite the run "
                              f"({os_error_text(e)})") from None
    if gone:
        logger.info("--overwrite: removed %s from %s", ", ".join(gone), run_dir)
    return gone


def make_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunDirError(f"{run_dir}: exists and is not a directory") from None
    except OSError as e:
        raise OutputError(f"{run_dir}: cannot create the run directory "
                          f"({os_error_text(e)})") from None


class RunLock:
    """Exclusive lock on a run directory (module docstring); a context manager."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def _busy(self, pid: str) -> RunDirError:
        who = f" (pid {pid})" if pid else ""
        return RunDirError(f"{self.path.parent}: another train is running in this directory"
                           f"{who}; wait for it to finish or use another --out")

    def acquire(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self._acquire_excl()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise OutputError(f"{self.path}: cannot create the lock file "
                              f"({os_error_text(e)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            finally:
                os.close(fd)
            raise self._busy(pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def _acquire_excl(self) -> RunLock:  # pragma: no cover - Windows
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                pid = self.path.read_text(errors="replace").strip()
                if pid.isdigit() and _alive(int(pid)):
                    raise self._busy(pid) from None
                logger.warning("%s: taking over a stale lock (pid %s)", self.path, pid or "?")
                self.path.unlink(missing_ok=True)
                continue
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            self._excl = True
            return self
        raise self._busy("")

    def release(self) -> None:
        if self.fd is None:
            return
        os.close(self.fd)  # closing drops the flock
        self.fd = None
        if getattr(self, "_excl", False):  # pragma: no cover - Windows
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _alive(pid: int) -> bool:  # pragma: no cover - Windows
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """``{"train": {"epochs": 3}}`` -> ``{"train.epochs": 3}`` (lists stay values)."""
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


_ABSENT = "(absent)"


def config_changes(old: dict, new: dict, defaults: dict | None = None) -> dict[str, tuple[Any, Any]]:
    """Dotted field -> (old, new) for every field whose value differs. A field the old config
    lacks (written by an older robustmsa) counts as unchanged when the new value is its
    default in ``defaults``."""
    a, b, dflt = flatten(old), flatten(new), flatten(defaults or {})
    out: dict[str, tuple[Any, Any]] = {}
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, _ABSENT), b.get(k, _ABSENT)
        if k not in a and k in dflt and vb == dflt[k]:
            continue
        if va != vb:
            out[k] = (va, vb)
    return out


def check_resume_config(last: Path, old: dict, new: dict,
                        defaults: dict | None = None) -> dict[str, tuple[Any, Any]]:
    """Allow ``--resume`` when only `SAFE_RESUME_FIELDS` changed; returns those changes.

    Raises:
        RunDirError: naming every other differing field with its stored and new value.
    """
    changes = config_changes(old, new, defaults)
    unsafe = {k: v for k, v in changes.items() if k not in SAFE_RESUME_FIELDS}
    if unsafe:
        diff = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in unsafe.items())
        raise RunDirError(
            f"{last}: --resume with a changed config ({diff}); only "
            f"{', '.join(SAFE_RESUME_FIELDS)} may change on resume — use --overwrite or another "
            "--out for a different run"
        )
    for k, (a, b) in changes.items():
        logger.info("resume: %s changed from %r to %r", k, a, b)
    return changes
