"""Input validation and small numerical helpers shared by the metric modules.

Every check raises `MetricInputError` (a `ValueError`) whose message starts with the name of
the offending argument (``pred``, ``truth``, ...); `MetricInputError.argument` carries that
name so that the CLI can translate it into the file key it came from.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import f1_score


class MetricInputError(ValueError):
    """Invalid metric input (wrong shape, length, dtype, empty, NaN/inf).

    Attributes:
        argument: name of the offending argument (``"pred"``, ``"truth"``, ...), or None when
            the problem involves several arguments (e.g. mismatched lengths).
    """

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


def _numeric(x: object, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == bool:
        return a
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise MetricInputError(f"{name}: expected a real numeric array, got dtype {a.dtype}", name)
    return a


def _float_dtype(a: np.ndarray) -> np.ndarray:
    """Keep float32/float64 as is (bin edges are compared in this dtype, as MMSA does on
    float32 tensors); float16 -> float32; integers, bools and long doubles -> float64."""
    if a.dtype in (np.float32, np.float64):
        return a
    if a.dtype == np.float16:
        return a.astype(np.float32)
    return a.astype(np.float64)


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise `MetricInputError` naming ``name`` and the first bad index if ``a`` has NaN/inf."""
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad)), a.shape)
            where = first[0] if len(first) == 1 else tuple(int(i) for i in first)
            raise MetricInputError(
                f"{name}: {int(bad.sum())} non-finite value(s) (NaN or inf), first at index "
                f"{where}",
                name,
            )


def as_float_vector(x: object, name: str) -> np.ndarray:
    """Validate a score vector: shape (N,) or (N, 1), N >= 1, finite, real numeric.

    Returns a 1-D float32 or float64 array (see `_float_dtype`).
    """
    a = _numeric(x, name)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise MetricInputError(
            f"{name}: expected a score vector of shape (N,) or (N, 1), got shape {a.shape}", name
        )
    if a.shape[0] == 0:
        raise MetricInputError(f"{name}: empty array (N = 0)", name)
    a = _float_dtype(a)
    check_finite(a, name)
    return a


def as_label_vector(x: object, name: str, n_classes: int | None = None) -> np.ndarray:
    """Validate integer class labels of shape (N,): integer-valued, >= 0, < ``n_classes``.

    Floats holding integer values (e.g. 2.0) are accepted. Returns an int64 array.
    """
    a = _numeric(x, name)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise MetricInputError(f"{name}: expected labels of shape (N,), got shape {a.shape}", name)
    if a.shape[0] == 0:
        raise MetricInputError(f"{name}: empty array (N = 0)", name)
    check_finite(a, name)
    if np.issubdtype(a.dtype, np.floating) and not np.all(a == np.round(a)):
        raise MetricInputError(f"{name}: class labels must be integers, got fractional values", name)
    lab = a.astype(np.int64)
    if lab.min() < 0:
        raise MetricInputError(f"{name}: class labels must be >= 0, got {int(lab.min())}", name)
    if n_classes is not None and lab.max() >= n_classes:
        raise MetricInputError(
            f"{name}: class label {int(lab.max())} out of range for {n_classes} classes", name
        )
    return lab


def check_same_length(pred: np.ndarray, truth: np.ndarray) -> None:
    """Raise `MetricInputError` unless ``pred`` and ``truth`` have the same first dimension."""
    if pred.shape[0] != truth.shape[0]:
        raise MetricInputError(
            f"pred and truth have different lengths: {pred.shape[0]} vs {truth.shape[0]}"
        )


def weighted_f1(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Support-weighted F1, exactly ``f1_score(y_true, y_pred, average='weighted')``.

    The argument order is (truth, prediction): weights are the *true* class supports. Swapping
    the two arguments was a real MMSA bug (SIMS F1, fixed in ``cb5e0bd``). sklearn's
    "ill-defined" warnings are silenced; the value is unchanged (ill-defined terms count as 0).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return float(f1_score(y_true, y_pred, average="weighted", sample_weight=sample_weight))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """``np.corrcoef(a, b)[0, 1]`` in float64; NaN (no warning) when a side is constant or N = 1."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])
