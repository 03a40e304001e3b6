"""Keep third-party native log noise (MediaPipe / TFLite / absl / torch profiler) off the terminal.

MediaPipe's C++ code writes glog/absl lines such as ``W0000 00:00:... inference_feedback_
manager.cc:114] Feedback manager requires ...`` and ``INFO: Created TensorFlow Lite XNNPACK
delegate for CPU.`` straight to file descriptor 2, from native threads, so Python's logging
cannot filter them. `quiet_native` points fd 2 at a temporary file for the duration of a
noisy call and, afterwards, writes back to the real stderr every captured line that is *not*
one of those third-party patterns (so our own warnings raised inside the call are delayed,
never lost; records of Python `logging` handlers that write to the terminal's stderr go
straight through, in order). No environment variable is read or set.

It is a no-op when debug logging is on for ``robustmsa`` (``robustmsa -v``), so ``-v`` shows
everything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

#: lines of third-party native logging that are dropped (glog prefix ``W0000 00:00:...``,
#: TFLite's delegate line, absl's pre-init banner, the torch profiler's start / stop lines).
NOISE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [\w.\-/]+:\d+\] "
    r"|INFO: Created TensorFlow Lite"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|INFO: Initialized TensorFlow Lite runtime"
    r"|USDT:\S+ \S+ \d+:\d+ \w+\.cpp:\d+\] profiler_(?:start|stop)$)"
)

_LOCK = threading.RLock()
_depth = 0


def _verbose() -> bool:
    return logging.getLogger("robustmsa").isEnabledFor(logging.DEBUG)


def filter_noise(text: str) -> str:
    """``text`` without the lines matching `NOISE`."""
    keep = [ln for ln in text.splitlines(keepends=True) if not NOISE.match(ln)]
    return "".join(keep)


def _stderr_handlers() -> list[logging.StreamHandler]:
    """Logging handlers writing to ``sys.stderr`` when that is the process's fd 2."""
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return []
    except (AttributeError, OSError, ValueError):  # pytest capture, StringIO, ...
        return []
    out: list[logging.StreamHandler] = []
    for name in (None, "robustmsa"):
        for h in logging.getLogger(name).handlers:
            if type(h) is logging.StreamHandler and h.stream is sys.stderr:
                out.append(h)
    return out


@contextlib.contextmanager
def quiet_native(enabled: bool | None = None) -> Iterator[None]:
    """Capture fd 2 during the block; re-emit what is not third-party noise afterwards.

    Args:
        enabled: force on/off; default: on unless ``robustmsa`` debug logging is enabled.
    """
    global _depth
    if enabled is None:
        enabled = not _verbose()
    if not enabled:
        yield
        return
    with _LOCK:
        if _depth:  # already captured by an outer block
            _depth += 1
            try:
                yield
            finally:
                _depth -= 1
            return
        try:
            fd_saved = os.dup(2)
        except OSError:  # no usable fd 2 (embedded interpreters): nothing to silence
            yield
            return
        cap = tempfile.TemporaryFile(mode="w+b")
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        handlers = _stderr_handlers()
        real = os.fdopen(os.dup(fd_saved), "w", buffering=1, errors="replace") if handlers else None
        for h in handlers:
            h.setStream(real)
        os.dup2(cap.fileno(), 2)
        _depth = 1
        try:
            yield
        finally:
            _depth = 0
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(fd_saved, 2)
            os.close(fd_saved)
            for h in handlers:
                h.setStream(sys.stderr)
            if real is not None:
                real.close()
            cap.seek(0)
            kept = filter_noise(cap.read().decode("utf-8", "replace"))
            cap.close()
            if kept:
                with contextlib.suppress(Exception):
                    sys.stderr.write(kept)
                    sys.stderr.flush()
