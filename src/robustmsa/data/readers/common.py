"""Checks and conversions shared by the readers; every failure is a `DataError` naming the
file, the split and the field."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from robustmsa.data.safe_pickle import safe_load_pickle
from robustmsa.data.schema import SPLITS, MSADataset
from robustmsa.errors import DataError

logger = logging.getLogger(__name__)

# Split names used by other releases for our canonical names.
SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "train": ("train", "trn"),
    "valid": ("valid", "dev", "val", "validation"),
    "test": ("test", "tst"),
}


def get_splits(obj: Any, *, source: str) -> dict[str, Mapping]:
    """The ``train``/``valid``/``test`` mappings of a top-level pickle dict (aliases accepted).

    Raises:
        DataError: ``obj`` is not a dict, or a split is missing / not a dict.
    """
    if not isinstance(obj, Mapping):
        raise DataError(
            f"{source}: expected a dict with splits {', '.join(SPLITS)} at top level; "
            f"got {type(obj).__name__}"
        )
    out: dict[str, Mapping] = {}
    for split in SPLITS:
        key = next((a for a in SPLIT_ALIASES[split] if a in obj), None)
        if key is None:
            raise DataError(
                f"{source}: missing split {split!r} (top-level keys: "
                f"{', '.join(map(str, obj)) or 'none'})"
            )
        if not isinstance(obj[key], Mapping):
            raise DataError(
                f"{source}: split {key!r} must be a dict of arrays; got {type(obj[key]).__name__}"
            )
        out[split] = obj[key]
    return out


def get_key(d: Mapping, key: str, *, source: str, split: str) -> Any:
    """``d[key]`` or a `DataError` listing the keys that are there."""
    if key not in d:
        raise DataError(
            f"{source} [{split}]: missing key {key!r} (keys present: "
            f"{', '.join(map(str, d)) or 'none'})"
        )
    return d[key]


def as_float(x: Any, *, source: str, split: str, key: str, ndim: int) -> np.ndarray:
    """``x`` as a float32 array with ``ndim`` axes, or a `DataError`.

    Non-finite values are *not* checked here (`validate_split` does, with the sample id).
    """
    try:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            arr = arr.astype(np.float64)
        arr = arr.astype(np.float32, copy=False)
    except (TypeError, ValueError) as e:
        raise DataError(f"{source} [{split}]: {key!r} is not a numeric array ({e})") from None
    if arr.ndim != ndim:
        raise DataError(
            f"{source} [{split}]: {key!r} must have {ndim} axes; got shape {arr.shape}"
        )
    return arr


def as_labels(x: Any, n: int, *, source: str, split: str, key: str) -> np.ndarray:
    """Labels as a (N,) float32 vector; shapes like (N, 1) or (N, 1, 1) are flattened."""
    arr = as_float(np.asarray(x).reshape(-1) if np.ndim(x) else x, source=source, split=split,
                   key=key, ndim=1)
    if arr.shape[0] != n:
        raise DataError(
            f"{source} [{split}]: {key!r} has shape {np.shape(x)}, expected {n} labels "
            "(one per sample)"
        )
    return arr


def _id_str(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray) or isinstance(v, (list, tuple)):
        return "_".join(_id_str(e) for e in np.asarray(v, dtype=object).reshape(-1))
    return str(v)


def as_ids(x: Any | None, n: int, *, source: str, split: str, key: str = "id") -> np.ndarray:
    """Sample ids as a (N,) str array; 2-D id tables (MulT: video, start, end) are joined
    with ``_``; ``None`` gives ``{split}_{i}``."""
    if x is None:
        return np.array([f"{split}_{i}" for i in range(n)])
    arr = np.asarray(x, dtype=object)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise DataError(
            f"{source} [{split}]: {key!r} has shape {arr.shape}, expected {n} ids (one per sample)"
        )
    return np.array([_id_str(v) for v in arr], dtype=str)


def lengths_from_nonzero(x: np.ndarray) -> np.ndarray:
    """(N,) index of the last frame with any non-zero value, plus one (0 for all-zero rows).

    With zero padding at the end this never hides information: every frame past the length
    is all zero.
    """
    nz = np.any(x != 0, axis=2)  # (N, T)
    t = x.shape[1]
    last = t - np.argmax(nz[:, ::-1], axis=1)
    return np.where(nz.any(axis=1), last, 0).astype(np.int64)


def check_rows(x: np.ndarray, n: int, *, source: str, split: str, key: str,
               label_key: str = "labels") -> None:
    """A `DataError` unless ``x`` has ``n`` rows (as many as ``label_key``)."""
    if x.shape[0] != n:
        raise DataError(
            f"{source} [{split}]: {key!r} has {x.shape[0]} samples but {label_key!r} has {n}"
        )


def as_lengths(x: Any, n: int, *, source: str, split: str, key: str) -> np.ndarray:
    """Explicit per-sample lengths as (N,) int64 (range checked later by `validate_split`)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{source} [{split}]: {key!r} is not numeric (dtype {arr.dtype})")
    arr = arr.reshape(-1) if arr.ndim > 1 and arr.size == n else arr
    if arr.shape != (n,):
        raise DataError(f"{source} [{split}]: {key!r} has shape {arr.shape}, expected ({n},)")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise DataError(f"{source} [{split}]: {key!r} contains NaN or ±inf")
    return arr.astype(np.int64)


def read_split_pickle(
    path: str | os.PathLike,
    *,
    name: str | None,
    what: str,
    build: Callable[..., MSADataset],
) -> MSADataset:
    """Safe-load a ``{split: {...}}`` pickle and build it with ``build(obj, source=, name=)``.

    Raises:
        DataError: unsafe/corrupt pickle, or a top level that is not a dict of splits (the
            message names the file and ``what`` was expected).
    """
    p = Path(path)
    obj = safe_load_pickle(p)
    if not isinstance(obj, Mapping) or not any(k in obj for k in ("train", "valid", "dev", "test")):
        raise DataError(f"{p}: not {what} (top level must be a dict of splits)")
    return build(obj, source=str(p), name=name or p.stem)
