"""What each metric name means in a report: title, scale, direction, headline choice.

Metrics in [0, 1] (F1, accuracies, coverage) are shown ×100 with 2 decimals; MAE and Corr
(and any error metric) unscaled with 3 decimals. Lower-is-better metrics carry ``↓``.
Per-target metrics of multi-target regression are named ``BASE/TARGET`` (``MAE/t3``).
"""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    "F1": "weighted F1 of positive/negative polarity, Has0 convention (truth >= 0 is positive); "
          "for native classes, weighted F1 over classes",
    "Acc2": "accuracy of positive/negative polarity (Has0)",
    "Non0_F1": "weighted F1 of polarity with zero-truth clips removed (Non0)",
    "Non0_acc_2": "polarity accuracy with zero-truth clips removed (Non0)",
    "Has0_acc_2": "MMSA Has0 accuracy", "Has0_F1_score": "MMSA Has0 weighted F1",
    "Non0_F1_score": "MMSA Non0 weighted F1",
    "Mult_acc_7": "Acc-7: accuracy of round(clip(score, -3, 3)) over 7 classes (MMSA)",
    "Mult_acc_5": "Acc-5: accuracy of round(clip(score, -2, 2)) over 5 classes (MMSA)",
    "Acc7": "7-class accuracy of the predicted sentiment bin",
    "Acc3": "3-class accuracy (negative / neutral / positive)",
    "Acc": "accuracy over the native classes",
    "F1_macro": "macro F1 over the native classes",
    "MAE": "mean absolute error of the predicted score, lower is better",
    "Corr": "Pearson correlation of predicted and true score",
    "coverage": "fraction of clips that really have every modality the condition asks for",
}

TITLES: dict[str, str] = {
    "Acc2": "Acc-2", "Acc3": "Acc-3", "Acc7": "Acc-7", "Mult_acc_7": "Acc-7",
    "Mult_acc_5": "Acc-5", "Non0_F1": "F1 (Non0)", "Non0_acc_2": "Acc-2 (Non0)",
    "Has0_acc_2": "Acc-2 (Has0)", "Has0_F1_score": "F1 (Has0)", "Non0_F1_score": "F1 (Non0)",
    "F1_macro": "macro F1",
}

_LOWER = ("MAE", "MSE", "RMSE", "loss")
_UNSCALED = _LOWER + ("Corr",)

# (marker metric, headline metrics in order); first match wins, by task kind
_HEADLINES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("MAE", ("MAE", "Corr", "Mult_acc_7", "Acc2", "F1")),  # regression
    ("Acc7", ("F1", "Acc7", "Acc2")),
    ("Acc3", ("F1", "Acc3", "Acc2")),
    ("F1_macro", ("F1", "Acc", "F1_macro")),  # native classes
)
_DEFAULT = ("F1", "Acc2", "Non0_F1")
NOT_SCORES = frozenset({"coverage"})


def base(metric: str) -> str:
    """``"MAE/t3" -> "MAE"``."""
    return metric.split("/", 1)[0]


def target(metric: str) -> str:
    """``"MAE/t3" -> "t3"``; ``""`` for an averaged metric."""
    return metric.split("/", 1)[1] if "/" in metric else ""


def lower_is_better(metric: str) -> bool:
    return base(metric).startswith(_LOWER)


def scale(metric: str) -> float:
    return 1.0 if base(metric).startswith(_UNSCALED) else 100.0


def digits(metric: str) -> int:
    return 3 if scale(metric) == 1.0 else 2


def title(metric: str) -> str:
    """Display name, ``↓`` on lower-is-better metrics, ``/target`` kept."""
    t = TITLES.get(base(metric), base(metric)) + (" ↓" if lower_is_better(metric) else "")
    return t + (f" [{target(metric)}]" if target(metric) else "")


def unit(metric: str) -> str:
    return "×100" if scale(metric) == 100.0 else "unscaled"


def headline(metrics: set[str] | list[str], primary: str | None = None) -> list[str]:
    """The task's headline metrics among ``metrics`` (averaged names only), primary first."""
    have = {m for m in metrics if "/" not in m and m not in NOT_SCORES}
    order = next((h for mark, h in _HEADLINES if mark in have), _DEFAULT)
    out = [m for m in order if m in have] or sorted(have)[:3]
    if primary and primary in have:
        out = [primary] + [m for m in out if m != primary]
    return out
