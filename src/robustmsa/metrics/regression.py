"""Regression-mode sentiment metrics in MMSA's conventions (``MetricsTop``, mmsa 2.2.1).

Two conventions, kept strictly apart (spec ``protocols_and_metrics.md`` §2.1, §2.2, §4 items 3-6):

**MOSI / MOSEI** (``"mosi"``, ``"mosei"``; scores in [-3, 3]) — keys `MOSI_KEYS`:

- ``MAE``, ``Corr``: on the *unclipped* values; Corr is ``np.corrcoef(pred, truth)[0, 1]``.
- ``Has0_acc_2`` / ``Has0_F1_score``: ``truth >= 0`` vs ``pred >= 0`` over all samples.
- ``Non0_acc_2`` / ``Non0_F1_score``: drop samples with ``truth == 0``, compare ``truth > 0``
  with ``pred > 0``. A prediction of exactly 0 is non-negative for Has0, negative for Non0.
- ``Mult_acc_7``: clip both to [-3, 3], ``np.round`` (half to even) both, compare.
  ``Mult_acc_5``: same with [-2, 2].

**SIMS / SIMSv2** (``"sims"``; scores in [-1, 1]) — keys `SIMS_KEYS`: first clip both to
[-1, 1]; ``MAE``/``Corr`` on the *clipped* values; ``Mult_acc_2`` bins [-1, 0] / (0, 1] (zero is
negative); ``Mult_acc_3`` bins [-1, -0.1] / (-0.1, 0.1] / (0.1, 1]; ``Mult_acc_5`` bins
[-1, -0.7] / (-0.7, -0.1] / (-0.1, 0.1] / (0.1, 0.7] / (0.7, 1]; ``F1_score`` = weighted F1 on
the 2-class bins.

Conventions of this module:

- F1 is always ``f1_score(y_true, y_pred, average='weighted')`` (truth first).
- Values are unrounded Python floats (MMSA rounds to 4 decimals; round at display time).
- Bin edges are compared in the input's float dtype: float32 input is binned in float32, as
  MMSA does on its float32 tensors (so ``float32(0.1)`` falls in (-0.1, 0.1]); other inputs
  are binned in float64. MAE/Corr are accumulated in float64.
- ``Corr`` is NaN when pred or truth is constant or N = 1 (NumPy/MMSA behaviour, kept).
- ``Non0_*`` are NaN when every truth is exactly 0 (MMSA raises ``IndexError`` there).
- Invalid input (shape other than (N,) / (N, 1), N = 0, different lengths, NaN/inf, non-numeric)
  raises `MetricInputError` (a ``ValueError``) naming the argument.
"""

from __future__ import annotations

import numpy as np

from robustmsa.metrics._checks import (
    as_float_vector,
    check_same_length,
    pearson,
    weighted_f1,
)

MOSI_KEYS: tuple[str, ...] = (
    "Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score",
    "Mult_acc_5", "Mult_acc_7", "MAE", "Corr",
)
SIMS_KEYS: tuple[str, ...] = ("Mult_acc_2", "Mult_acc_3", "Mult_acc_5", "F1_score", "MAE", "Corr")

#: Inner bin edges of the SIMS classes; class i holds edges[i-1] < x <= edges[i] on [-1, 1].
SIMS_EDGES: dict[int, tuple[float, ...]] = {
    2: (0.0,),
    3: (-0.1, 0.1),
    5: (-0.7, -0.1, 0.1, 0.7),
}


def _pair(pred: object, truth: object) -> tuple[np.ndarray, np.ndarray]:
    p = as_float_vector(pred, "pred")
    t = as_float_vector(truth, "truth")
    check_same_length(p, t)
    return p, t


def _acc(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a == b) / float(len(a)))


# ---------------------------------------------------------------- MOSI / MOSEI building blocks


def mae(pred: object, truth: object) -> float:
    """Mean absolute error on the values as given (MOSI/MOSEI convention: unclipped).

    Args:
        pred: (N,) or (N, 1) predicted scores.
        truth: (N,) or (N, 1) true scores.

    Returns:
        mean |pred - truth|, accumulated in float64.
    """
    p, t = _pair(pred, truth)
    return float(np.mean(np.abs(p.astype(np.float64) - t.astype(np.float64))))


def pearson_corr(pred: object, truth: object) -> float:
    """Pearson correlation ``np.corrcoef(pred, truth)[0, 1]`` (MOSI/MOSEI: unclipped).

    Returns:
        The correlation, or NaN if either side is constant or N = 1 (no warning emitted).
    """
    p, t = _pair(pred, truth)
    return pearson(p, t)


def has0_acc2(pred: object, truth: object) -> float:
    """MOSI/MOSEI Has0 binary accuracy: ``truth >= 0`` vs ``pred >= 0`` over all samples."""
    p, t = _pair(pred, truth)
    return _acc(p >= 0, t >= 0)


def has0_f1(pred: object, truth: object) -> float:
    """MOSI/MOSEI Has0 weighted F1: ``f1_score(truth >= 0, pred >= 0, average='weighted')``."""
    p, t = _pair(pred, truth)
    return weighted_f1(t >= 0, p >= 0)


def non0_acc2(pred: object, truth: object) -> float:
    """MOSI/MOSEI Non0 binary accuracy: drop ``truth == 0``, compare ``> 0``; NaN if none left."""
    p, t = _pair(pred, truth)
    keep = t != 0
    return _acc(p[keep] > 0, t[keep] > 0) if keep.any() else float("nan")


def non0_f1(pred: object, truth: object) -> float:
    """MOSI/MOSEI Non0 weighted F1 on the samples with ``truth != 0``; NaN if none left."""
    p, t = _pair(pred, truth)
    keep = t != 0
    return weighted_f1(t[keep] > 0, p[keep] > 0) if keep.any() else float("nan")


def mult_acc(pred: object, truth: object, clip: float) -> float:
    """Rounded multi-class accuracy: clip both to [-clip, clip], ``np.round`` both, compare.

    ``clip=3`` gives MOSI/MOSEI ``Mult_acc_7``, ``clip=2`` gives ``Mult_acc_5``. ``np.round``
    rounds half to even (2.5 -> 2, -0.5 -> -0).
    """
    p, t = _pair(pred, truth)
    return _acc(np.round(np.clip(p, -clip, clip)), np.round(np.clip(t, -clip, clip)))


def mosi_metrics(pred: object, truth: object) -> dict[str, float]:
    """All MOSI/MOSEI regression metrics (convention ``"mosi"`` / ``"mosei"``).

    Args:
        pred: (N,) or (N, 1) predicted sentiment scores (any real values).
        truth: (N,) or (N, 1) true sentiment scores in [-3, 3].

    Returns:
        ``{key: value}`` for the keys of `MOSI_KEYS`, in that order, unrounded.

    Raises:
        MetricInputError: on invalid input (see module docstring).
    """
    p, t = _pair(pred, truth)
    keep = t != 0
    if keep.any():
        non0_acc = _acc(p[keep] > 0, t[keep] > 0)
        non0_f = weighted_f1(t[keep] > 0, p[keep] > 0)
    else:
        non0_acc = non0_f = float("nan")
    return {
        "Has0_acc_2": _acc(p >= 0, t >= 0),
        "Has0_F1_score": weighted_f1(t >= 0, p >= 0),
        "Non0_acc_2": non0_acc,
        "Non0_F1_score": non0_f,
        "Mult_acc_5": _acc(np.round(np.clip(p, -2.0, 2.0)), np.round(np.clip(t, -2.0, 2.0))),
        "Mult_acc_7": _acc(np.round(np.clip(p, -3.0, 3.0)), np.round(np.clip(t, -3.0, 3.0))),
        "MAE": float(np.mean(np.abs(p.astype(np.float64) - t.astype(np.float64)))),
        "Corr": pearson(p, t),
    }


# ------------------------------------------------------------------------------------- SIMS


def _sims_bins(x: np.ndarray, n_classes: int) -> np.ndarray:
    edges = np.asarray(SIMS_EDGES[n_classes], dtype=x.dtype)
    return np.sum(x[:, None] > edges[None, :], axis=1)


def sims_classes(values: object, n_classes: int) -> np.ndarray:
    """SIMS class index of each score: clip to [-1, 1], then bin with `SIMS_EDGES`.

    Args:
        values: (N,) or (N, 1) scores.
        n_classes: 2, 3 or 5.

    Returns:
        (N,) int array of class indices in ``0 .. n_classes - 1`` (0 = most negative).
    """
    if n_classes not in SIMS_EDGES:
        raise ValueError(f"n_classes must be one of {sorted(SIMS_EDGES)}, got {n_classes}")
    x = as_float_vector(values, "values")
    return _sims_bins(np.clip(x, -1.0, 1.0), n_classes)


def sims_metrics(pred: object, truth: object) -> dict[str, float]:
    """All SIMS/SIMSv2 regression metrics (convention ``"sims"``).

    Args:
        pred: (N,) or (N, 1) predicted sentiment scores (clipped to [-1, 1] here).
        truth: (N,) or (N, 1) true sentiment scores (clipped to [-1, 1] here).

    Returns:
        ``{key: value}`` for the keys of `SIMS_KEYS`, in that order, unrounded; MAE and Corr
        are computed on the clipped values.

    Raises:
        MetricInputError: on invalid input (see module docstring).
    """
    p, t = _pair(pred, truth)
    p = np.clip(p, -1.0, 1.0)
    t = np.clip(t, -1.0, 1.0)
    p2, t2 = _sims_bins(p, 2), _sims_bins(t, 2)
    return {
        "Mult_acc_2": _acc(p2, t2),
        "Mult_acc_3": _acc(_sims_bins(p, 3), _sims_bins(t, 3)),
        "Mult_acc_5": _acc(_sims_bins(p, 5), _sims_bins(t, 5)),
        "F1_score": weighted_f1(t2, p2),
        "MAE": float(np.mean(np.abs(p.astype(np.float64) - t.astype(np.float64)))),
        "Corr": pearson(p, t),
    }
