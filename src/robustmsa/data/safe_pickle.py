"""A restricted unpickler for data files written by other programs (MMSA, MulT, MMSA-FET).

A pickle is a program: loading one with `pickle.load` can call any importable function
(``os.system``, ``builtins.eval`` ...). `safe_load_pickle` resolves only an explicit allow-list
of globals — the handful NumPy needs to rebuild arrays, dtypes and scalars, plus plain
containers — and refuses everything else with a `DataError` that names the file and the
refused global. Nothing outside the allow-list is ever imported.

Allowed globals:

- NumPy: ``numpy.ndarray``, ``numpy.dtype``, ``numpy.core.multiarray._reconstruct``,
  ``numpy.core.multiarray.scalar``, ``numpy.core.numeric._frombuffer`` (protocol 5) and the
  same names under ``numpy._core`` (NumPy >= 2). Old ``numpy.core`` names are resolved to
  ``numpy._core`` on NumPy 2 (no deprecation warning, no import of ``numpy.core``).
- Builtins: ``dict list tuple set frozenset str bytes bytearray int float bool complex
  slice`` and ``collections.OrderedDict``; ``_codecs.encode`` (Python 3 writes ``bytes`` this
  way at protocols 0-2; it only converts text to bytes).
- Python 2 module names (``__builtin__``, ``copy_reg``) are mapped as `pickle` does.

Python 2 pickles (e.g. old MulT/CMU releases) store raw array buffers as ``str``; when the
default ASCII decoding fails, the file is re-read with ``encoding="latin1"`` (what NumPy
documents for such files).
"""

from __future__ import annotations

import builtins
import codecs
import collections
import importlib
import io
import logging
import os
import pickle
from pathlib import Path
from typing import Any

from robustmsa.errors import DataError

logger = logging.getLogger(__name__)

_BUILTIN_NAMES: frozenset[str] = frozenset(
    {"dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int",
     "float", "bool", "complex", "slice"}
)
# (submodule of numpy's core package, attribute)
_NUMPY_CORE: frozenset[tuple[str, str]] = frozenset(
    {("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer")}
)
_NUMPY_TOP: frozenset[str] = frozenset({"ndarray", "dtype"})
_PY2_MODULES: dict[str, str] = {"__builtin__": "builtins", "copy_reg": "copyreg"}

# First bytes of common non-pickle files, to give a clear message instead of an opcode error.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a zip archive (.npz?)"),
    (b"\x93NUMPY", "a .npy array"),
    (b"\x89HDF", "an HDF5 file (.h5/.csd)"),
    (b"%PDF", "a PDF"),
    (b"RIFF", "a RIFF (wav/avi) file"),
)


def _numpy_core_attr(sub: str, name: str) -> Any:
    for pkg in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{pkg}.{sub}"), name)
        except (ImportError, AttributeError):
            continue
    raise AttributeError(f"numpy has no {sub}.{name}")


def resolve_allowed_global(module: str, name: str) -> Any | None:
    """The object for an allowed ``module.name`` pickle global, or None if it is not allowed."""
    module = _PY2_MODULES.get(module, module)
    if module == "builtins" and name in _BUILTIN_NAMES:
        return getattr(builtins, name)
    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    if module == "_codecs" and name == "encode":
        return codecs.encode
    if module == "numpy" and name in _NUMPY_TOP:
        import numpy

        return getattr(numpy, name)
    for prefix in ("numpy._core.", "numpy.core."):
        if module.startswith(prefix) and (module[len(prefix):], name) in _NUMPY_CORE:
            return _numpy_core_attr(module[len(prefix):], name)
    return None


class _Refused(pickle.UnpicklingError):
    """Raised inside the unpickler for a global outside the allow-list."""

    def __init__(self, qualname: str) -> None:
        super().__init__(qualname)
        self.qualname = qualname


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` that resolves only the allow-listed globals (see module docstring)."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        obj = resolve_allowed_global(module, name)
        if obj is None:
            raise _Refused(f"{module}.{name}")
        return obj

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise _Refused(f"persistent id {pid!r}")


def _describe_non_pickle(head: bytes) -> str | None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    return None


def _load_bytes(data: bytes, encoding: str) -> Any:
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()


def safe_load_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle admitting only NumPy arrays/dtypes/scalars and plain containers.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (dicts, lists, tuples, NumPy arrays, str, numbers ...).

    Raises:
        DataError: the file is missing, not a pickle, truncated/corrupt, or needs a global
            outside the allow-list (message: ``refused to unpickle global os.system``).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{p}: is a directory, expected a pickle file") from None
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e})") from None
    if not data:
        raise DataError(f"{p}: file is empty, expected a pickle")
    what = _describe_non_pickle(data[:8])
    if what is not None:
        raise DataError(f"{p}: not a pickle file (looks like {what})")
    for encoding in ("ASCII", "latin1"):
        try:
            obj = _load_bytes(data, encoding)
        except _Refused as e:
            raise DataError(
                f"{p}: refused to unpickle global {e.qualname} (only NumPy arrays and plain "
                "containers are allowed in data pickles)"
            ) from None
        except UnicodeDecodeError:
            if encoding == "ASCII":
                logger.debug("%s: non-ASCII Python 2 strings, retrying with latin1", p)
                continue
            raise DataError(f"{p}: undecodable text in pickle") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                IndexError, AttributeError, MemoryError, OverflowError, ImportError,
                RecursionError) as e:
            # bad opcodes, truncation, NumPy refusing a malformed array state, ...
            kind = (
                "corrupt or truncated pickle" if data[:1] == b"\x80"
                else "not a pickle file, or a corrupt one"
            )
            raise DataError(f"{p}: {kind} ({type(e).__name__}: {e})") from None
        return obj
    raise AssertionError("unreachable")  # pragma: no cover
