"""Classification metrics: generic multi-class, MMSA 3-class mode, IEMOCAP per-emotion heads.

Conventions:

- ``"classification"`` (`classification_metrics`): keys ``Acc``, ``F1_weighted``,
  ``F1_macro`` and ``F1_<class name>`` per class. Weighted/macro F1 are sklearn's
  ``f1_score(y_true, y_pred, average=...)`` over the labels present in truth or prediction (the
  MMIN / GCNet usage). A per-class F1 is NaN when the class occurs in neither truth nor
  prediction (ill-defined), else sklearn's value (ill-defined precision/recall count as 0).
- ``"mmsa_classification"`` (`mmsa_classification_metrics`): MMSA's classification mode for
  3-class logits (0 Negative, 1 Neutral, 2 Positive), keys `MMSA_CLASSIFICATION_KEYS`. The
  2-class numbers use the logits of classes {0, 2}; Has0 maps truth <= 1 -> 0; Non0 drops
  truth == 1. **Deliberate difference:** MMSA compares the Non0 predictions (0/1) with the
  *unmapped* truths (0/2), so positives can never be right; here truth 2 is mapped to 1.
  Non0 values are NaN when every truth is Neutral (MMSA raises ``IndexError``).
- ``"iemocap"`` (`per_emotion_binary_metrics`): MulT ``eval_iemocap``: for each emotion, the
  argmax of its 2-logit head vs its binary truth; keys ``Acc_<emotion>``, ``F1_<emotion>``
  (weighted F1 of the binary head).

Weighted F1 is always called as ``f1_score(y_true, y_pred, average='weighted')``. Invalid input
raises `MetricInputError` (a ``ValueError``) naming the argument.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import f1_score

from robustmsa.metrics._checks import (
    MetricInputError,
    _numeric,
    as_label_vector,
    check_finite,
    check_same_length,
    weighted_f1,
)

MMSA_CLASSIFICATION_KEYS: tuple[str, ...] = (
    "Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score", "Acc_3", "F1_score_3",
)
#: MulT's IEMOCAP emotion order for the 4 binary heads.
IEMOCAP_EMOTIONS: tuple[str, ...] = ("Neutral", "Happy", "Sad", "Angry")


def _scores_matrix(x: object, name: str) -> np.ndarray:
    a = _numeric(x, name)
    if a.ndim == 0:
        raise MetricInputError(f"{name}: expected an array, got a scalar", name)
    if a.shape[0] == 0:
        raise MetricInputError(f"{name}: empty array (N = 0)", name)
    check_finite(a, name)
    return a


def _names(class_names: Sequence[str] | None, n: int, what: str) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(n)]
    names = [str(c) for c in class_names]
    if len(names) != n:
        raise MetricInputError(f"class_names: {len(names)} names given for {n} {what}", "class_names")
    if len(set(names)) != len(names):
        raise MetricInputError(f"class_names: duplicate names in {names}", "class_names")
    return names


def _pred_labels(pred: object, n_classes: int | None) -> tuple[np.ndarray, int | None]:
    """(N,) labels or (N, C) scores -> (N,) labels and C (None if unknown)."""
    a = np.asarray(pred)
    if a.ndim == 2 and a.shape[1] > 1:
        s = _scores_matrix(a, "pred")
        if n_classes is not None and s.shape[1] != n_classes:
            raise MetricInputError(
                f"pred: {s.shape[1]} score columns but {n_classes} classes", "pred"
            )
        return np.argmax(s, axis=1).astype(np.int64), s.shape[1]
    if a.ndim > 2:
        raise MetricInputError(
            f"pred: expected (N,) labels or (N, C) scores, got shape {a.shape}", "pred"
        )
    return as_label_vector(a, "pred", n_classes), n_classes


def classification_metrics(
    pred: object,
    truth: object,
    *,
    class_names: Sequence[str] | None = None,
    sample_weight: object | None = None,
) -> dict[str, float]:
    """Accuracy, weighted/macro F1 and per-class F1 (convention ``"classification"``).

    Args:
        pred: (N,) integer class labels, or (N, C) class scores/logits/probabilities (argmax).
        truth: (N,) integer class labels in ``0 .. C-1`` (integer-valued floats accepted).
        class_names: names for the ``F1_<name>`` keys; default ``"0" .. "C-1"``. C is taken
            from the score columns, else from ``class_names``, else ``max label + 1``.
        sample_weight: optional (N,) non-negative weights (e.g. GCNet's IEMOCAP mask).

    Returns:
        ``{"Acc", "F1_weighted", "F1_macro", "F1_<name>" ...}``, unrounded.

    Raises:
        MetricInputError: on invalid input.
    """
    n_known = len(class_names) if class_names is not None else None
    p, n_classes = _pred_labels(pred, n_known)
    t = as_label_vector(truth, "truth", n_classes)
    check_same_length(p, t)
    if n_classes is None:
        n_classes = int(max(p.max(), t.max())) + 1
    names = _names(class_names, n_classes, "classes")
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != t.shape:
            raise MetricInputError(
                f"sample_weight: shape {w.shape} does not match truth {t.shape}", "sample_weight"
            )
        check_finite(w, "sample_weight")
        if (w < 0).any() or w.sum() <= 0:
            raise MetricInputError("sample_weight: must be >= 0 with a positive sum", "sample_weight")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        per_class = f1_score(
            t, p, labels=np.arange(n_classes), average=None, sample_weight=w, zero_division=0.0
        )
        macro = float(f1_score(t, p, average="macro", sample_weight=w))
    seen = np.isin(np.arange(n_classes), np.concatenate([t, p]))
    out = {
        "Acc": float(np.average(p == t, weights=w)),
        "F1_weighted": weighted_f1(t, p, sample_weight=w),
        "F1_macro": macro,
    }
    for i, name in enumerate(names):
        out[f"F1_{name}"] = float(per_class[i]) if seen[i] else float("nan")
    return out


def mmsa_classification_metrics(pred: object, truth: object) -> dict[str, float]:
    """MMSA classification mode (convention ``"mmsa_classification"``), keys
    `MMSA_CLASSIFICATION_KEYS`.

    Args:
        pred: (N, 3) logits/scores for (Negative, Neutral, Positive).
        truth: (N,) labels in {0, 1, 2}.

    Returns:
        Has0/Non0 2-class accuracy and weighted F1 from the {0, 2} logits, 3-class accuracy and
        weighted F1; unrounded. Non0 uses truth {0, 2} -> {0, 1} (see module docstring) and is
        NaN when every truth is 1.
    """
    s = _scores_matrix(pred, "pred")
    if s.ndim != 2 or s.shape[1] != 3:
        raise MetricInputError(f"pred: expected (N, 3) class scores, got shape {s.shape}", "pred")
    t = as_label_vector(truth, "truth", 3)
    check_same_length(s, t)
    p3 = np.argmax(s, axis=1)
    p2 = np.argmax(s[:, [0, 2]], axis=1)
    t_has0 = (t > 1).astype(np.int64)
    keep = t != 1
    if keep.any():
        t_non0 = (t[keep] == 2).astype(np.int64)
        non0_acc = float(np.mean(p2[keep] == t_non0))
        non0_f1 = weighted_f1(t_non0, p2[keep])
    else:
        non0_acc = non0_f1 = float("nan")
    return {
        "Has0_acc_2": float(np.mean(p2 == t_has0)),
        "Has0_F1_score": weighted_f1(t_has0, p2),
        "Non0_acc_2": non0_acc,
        "Non0_F1_score": non0_f1,
        "Acc_3": float(np.mean(p3 == t)),
        "F1_score_3": weighted_f1(t, p3),
    }


def per_emotion_binary_metrics(
    pred: object, truth: object, *, class_names: Sequence[str] | None = None
) -> dict[str, float]:
    """IEMOCAP per-emotion binary metrics, MulT ``eval_iemocap`` (convention ``"iemocap"``).

    Args:
        pred: (N, C, 2) logits of C binary heads (argmax over the last axis, as MulT), or
            (N, C) hard 0/1 predictions. For a single emotion, (N, 2) logits or (N,) labels
            with (N,) truth.
        truth: (N, C) 0/1 labels, or (N,) for a single emotion.
        class_names: emotion names; default `IEMOCAP_EMOTIONS` when C = 4, else "0".."C-1".

    Returns:
        ``{"Acc_<emotion>": ..., "F1_<emotion>": ...}`` per emotion, where F1 is
        ``f1_score(truth_e, pred_e, average='weighted')`` of that emotion's binary head.
    """
    t_raw = _scores_matrix(truth, "truth")
    p_raw = _scores_matrix(pred, "pred")
    if t_raw.ndim not in (1, 2):
        raise MetricInputError(f"truth: expected (N, C) or (N,), got shape {t_raw.shape}", "truth")
    check_same_length(p_raw, t_raw)
    t2 = t_raw.reshape(t_raw.shape[0], -1)
    n, c = t2.shape
    if p_raw.shape == t_raw.shape:  # hard 0/1 predictions
        p2 = p_raw.reshape(n, c)
    elif p_raw.shape == (*t_raw.shape, 2):  # one 2-logit head per emotion
        p2 = np.argmax(p_raw, axis=-1).reshape(n, c)
    else:
        raise MetricInputError(
            f"pred: shape {p_raw.shape} does not fit truth {t_raw.shape}; expected "
            f"{(*t_raw.shape, 2)} logits or {t_raw.shape} 0/1 labels",
            "pred",
        )
    for arr, name in ((t2, "truth"), (p2, "pred")):
        if not np.isin(arr, (0, 1)).all():
            raise MetricInputError(f"{name}: binary labels must be 0 or 1", name)
    t2, p2 = t2.astype(np.int64), p2.astype(np.int64)
    default = IEMOCAP_EMOTIONS if (class_names is None and c == len(IEMOCAP_EMOTIONS)) else None
    names = _names(class_names if class_names is not None else default, c, "emotions")
    out: dict[str, float] = {}
    for i, name in enumerate(names):
        out[f"Acc_{name}"] = float(np.mean(p2[:, i] == t2[:, i]))
        out[f"F1_{name}"] = weighted_f1(t2[:, i], p2[:, i])
    return out
