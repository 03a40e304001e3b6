"""The convention registry: ``score(pred, truth, convention)`` -> `Scores`.

| convention | function | keys |
|---|---|---|
| ``mosi``, ``mosei`` | `mosi_metrics` | `MOSI_KEYS` (MMSA names) |
| ``sims`` (also SIMSv2) | `sims_metrics` | `SIMS_KEYS` (MMSA names) |
| ``mmsa_classification`` | `mmsa_classification_metrics` | `MMSA_CLASSIFICATION_KEYS` |
| ``classification`` | `classification_metrics` | ``Acc, F1_weighted, F1_macro, F1_<class>`` |
| ``iemocap`` | `per_emotion_binary_metrics` | ``Acc_<emotion>, F1_<emotion>`` |
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from robustmsa.metrics.classification import (
    classification_metrics,
    mmsa_classification_metrics,
    per_emotion_binary_metrics,
)
from robustmsa.metrics.regression import mosi_metrics, sims_metrics

MetricFn = Callable[..., dict[str, float]]

#: convention name -> (metric function, names of the keyword options it accepts).
CONVENTIONS: Mapping[str, tuple[MetricFn, tuple[str, ...]]] = {
    "mosi": (mosi_metrics, ()),
    "mosei": (mosi_metrics, ()),
    "sims": (sims_metrics, ()),
    "mmsa_classification": (mmsa_classification_metrics, ()),
    "classification": (classification_metrics, ("class_names", "sample_weight")),
    "iemocap": (per_emotion_binary_metrics, ("class_names",)),
}


class Scores(dict[str, float]):
    """Metric name -> unrounded float, plus the ``convention`` that produced them.

    Attributes:
        convention: the convention name (a key of `CONVENTIONS`).
    """

    def __init__(self, convention: str, values: Mapping[str, float]) -> None:
        super().__init__(values)
        self.convention = convention

    def __repr__(self) -> str:
        return f"Scores(convention={self.convention!r}, {dict.__repr__(self)})"

    def to_json_dict(self, decimals: int | None = None) -> dict[str, object]:
        """``{"convention": ..., <metric>: value ...}`` ready for `json.dumps`.

        Args:
            decimals: round values to this many decimals (MMSA uses 4); None keeps them exact.

        Returns:
            A new dict; NaN/inf values become None (JSON ``null``), since JSON has no NaN.
        """
        out: dict[str, object] = {"convention": self.convention}
        for k, v in self.items():
            if not math.isfinite(v):
                out[k] = None
            else:
                out[k] = round(v, decimals) if decimals is not None else v
        return out


def score(
    pred: object,
    truth: object,
    convention: str,
    *,
    class_names: Sequence[str] | None = None,
    sample_weight: object | None = None,
) -> Scores:
    """Compute every metric of ``convention`` on ``pred`` vs ``truth``.

    Args:
        pred: predictions in the shape the convention expects (see each metric function).
        truth: ground truth.
        convention: a key of `CONVENTIONS` (case-insensitive).
        class_names: class/emotion names (``classification`` and ``iemocap`` only).
        sample_weight: per-sample weights (``classification`` only).

    Returns:
        `Scores`: MMSA's metric names (for the MMSA conventions) -> unrounded floats, with
        ``.convention`` set. Undefined values are NaN (see the metric functions).

    Raises:
        ValueError: unknown convention, or an option the convention does not take.
        MetricInputError: invalid arrays (a ``ValueError``; ``.argument`` names the array).
    """
    name = convention.lower()
    if name not in CONVENTIONS:
        raise ValueError(
            f"unknown convention {convention!r}; valid: {', '.join(CONVENTIONS)}"
        )
    fn, accepted = CONVENTIONS[name]
    options = {"class_names": class_names, "sample_weight": sample_weight}
    kwargs = {}
    for opt, val in options.items():
        if val is None:
            continue
        if opt not in accepted:
            raise ValueError(f"convention {name!r} does not take {opt!r}")
        kwargs[opt] = val
    return Scores(name, fn(pred, truth, **kwargs))
