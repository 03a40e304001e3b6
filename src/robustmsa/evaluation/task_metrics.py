"""Metrics for one evaluation condition, by task kind (unrounded floats).

``F1`` is the headline number everywhere: the weighted F1 of positive/negative polarity under
the Has0 convention (truth >= 0 is positive), as in CorrKD's MOSI/MOSEI tables; for native
class labels it is the weighted F1 over classes. ``Non0_F1`` (zeros removed) is reported too.
Regression adds every MMSA metric (`robustmsa.metrics`). ``multi_regression`` (targets on their
own scale) gives ``MAE/<target>`` / ``Corr/<target>`` (Pearson r; the report's ``BASE/TARGET``
names) per target and ``MAE`` /
``Corr``, their means over the targets (a constant prediction has an undefined r: NaN, and the
mean is then over the defined ones).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def _polarity(score: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    truth = labels >= 0
    pred = score >= 0
    out = {
        "F1": float(f1_score(truth, pred, average="weighted")),
        "Acc2": float(accuracy_score(truth, pred)),
    }
    nz = labels != 0
    if nz.any():
        out["Non0_F1"] = float(f1_score(labels[nz] > 0, score[nz] > 0, average="weighted"))
        out["Non0_acc_2"] = float(accuracy_score(labels[nz] > 0, score[nz] > 0))
    return out


def multi_target_metrics(pred: np.ndarray, truth: np.ndarray,
                         target_names: tuple[str, ...]) -> dict[str, float]:
    """MAE and Pearson r per target column and averaged. Shapes (N, K) or (N,) (K = 1)."""
    p = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    y = np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)
    if p.shape != y.shape:
        raise ValueError(f"predictions {p.shape} and labels {y.shape} differ in shape")
    names = tuple(target_names) or tuple(f"col{i:02d}" for i in range(y.shape[1]))
    mae = np.abs(p - y).mean(0)  # (K,)
    pc, yc = p - p.mean(0), y - y.mean(0)
    den = np.sqrt((pc ** 2).sum(0) * (yc ** 2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, (pc * yc).sum(0) / np.where(den > 0, den, 1.0), np.nan)
    out = {"MAE": float(mae.mean()),
           "Corr": float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")}
    if y.shape[1] > 1:
        for k, n in enumerate(names):
            out[f"MAE/{n}"] = float(mae[k])
            out[f"Corr/{n}"] = float(r[k])
    return out


def task_metrics(
    kind: str,
    score: np.ndarray,
    probs: np.ndarray | None,
    labels: np.ndarray,
    class_names: tuple[str, ...] = (),
    target_names: tuple[str, ...] = (),
) -> dict[str, float]:
    """Metrics of one prediction set.

    Args:
        kind: task kind (see `robustmsa.tasks`).
        score: (N,) predicted scores (expected class centre for binned sentiment).
        probs: (N, C) class probabilities, or None for regression.
        labels: (N,) sentiment scores, or class ids for ``native``.
        class_names: class names for per-class F1 (native).
        target_names: target names for per-target metrics (multi_regression).
    """
    score = np.asarray(score, dtype=np.float64)
    labels = np.asarray(labels)
    if kind == "multi_regression":
        return multi_target_metrics(score, labels, target_names)
    if kind == "native":
        assert probs is not None
        pred = probs.argmax(1)
        out = {
            "Acc": float(accuracy_score(labels, pred)),
            "F1": float(f1_score(labels, pred, average="weighted")),
            "F1_macro": float(f1_score(labels, pred, average="macro")),
        }
        per = f1_score(labels, pred, average=None, labels=list(range(len(class_names))),
                       zero_division=0)
        out.update({f"F1_{n}": float(v) for n, v in zip(class_names, per, strict=True)})
        return out
    labels = labels.astype(np.float64)
    out = _polarity(score, labels)
    if kind == "regression":
        from robustmsa.metrics import score as mmsa_score

        mm = mmsa_score(score, labels, "mosi")
        out.update({k: v for k, v in mm.items() if isinstance(v, float)})
    elif probs is not None and kind in ("sentiment3", "sentiment7"):
        if kind == "sentiment3":
            target = np.sign(labels) + 1
        else:
            target = np.round(np.clip(labels, -3, 3)) + 3
        out[f"Acc{probs.shape[1]}"] = float(accuracy_score(target, probs.argmax(1)))
    return out
