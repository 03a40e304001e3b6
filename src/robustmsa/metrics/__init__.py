"""MMSA-compatible evaluation metrics as pure functions on NumPy arrays.

Everything here takes array-likes, returns unrounded Python floats, uses no global RNG and
prints nothing. The conventions follow MMSA's ``MetricsTop`` (mmsa 2.2.1) exactly, except where
documented (MMSA classification-mode Non0; degenerate inputs where MMSA raises):

- ``score(pred, truth, "mosi" | "mosei" | "sims" | "mmsa_classification" | "classification"
  | "iemocap")`` -> `Scores` (a dict of metric name -> float with a ``.convention``).
- Undefined values are NaN, never an exception: ``Corr`` with a constant side or N = 1,
  ``Non0_*`` when every truth is 0 (MMSA raises ``IndexError``), per-class F1 of a class that
  occurs nowhere. `Scores.to_json_dict` turns NaN into ``null``.
- Invalid input raises `MetricInputError`, a ``ValueError`` whose ``.argument`` names the
  offending array; the CLI turns it into a `robustmsa.errors.DataError` naming file and key.

See ``regression``, ``classification`` and ``robustness`` for the exact definitions.
"""

from robustmsa.metrics._checks import MetricInputError, weighted_f1
from robustmsa.metrics.classification import (
    IEMOCAP_EMOTIONS,
    MMSA_CLASSIFICATION_KEYS,
    classification_metrics,
    mmsa_classification_metrics,
    per_emotion_binary_metrics,
)
from robustmsa.metrics.conventions import CONVENTIONS, Scores, score
from robustmsa.metrics.regression import (
    MOSI_KEYS,
    SIMS_EDGES,
    SIMS_KEYS,
    has0_acc2,
    has0_f1,
    mae,
    mosi_metrics,
    mult_acc,
    non0_acc2,
    non0_f1,
    pearson_corr,
    sims_classes,
    sims_metrics,
)
from robustmsa.metrics.robustness import (
    INCOMPLETE_CONDITIONS,
    area_under_curve,
    effective_robustness,
    mean_over_conditions,
)

__all__ = [
    "CONVENTIONS",
    "IEMOCAP_EMOTIONS",
    "INCOMPLETE_CONDITIONS",
    "MMSA_CLASSIFICATION_KEYS",
    "MOSI_KEYS",
    "SIMS_EDGES",
    "SIMS_KEYS",
    "MetricInputError",
    "Scores",
    "area_under_curve",
    "classification_metrics",
    "effective_robustness",
    "has0_acc2",
    "has0_f1",
    "mae",
    "mean_over_conditions",
    "mmsa_classification_metrics",
    "mosi_metrics",
    "mult_acc",
    "non0_acc2",
    "non0_f1",
    "pearson_corr",
    "per_emotion_binary_metrics",
    "score",
    "sims_classes",
    "sims_metrics",
    "weighted_f1",
]
