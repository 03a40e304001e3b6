"""Task modes: how labels become training targets, and outputs become predictions + metrics.

| Task kind | Targets | Outputs | Headline metric ``F1`` |
|---|---|---|---|
| ``polarity2`` | score >= 0 -> 1 (positive), else 0 ("Has0" convention, zero = positive) | 2 logits | weighted F1, pos/neg |
| ``sentiment3`` | score < 0 -> neg, == 0 -> neutral, > 0 -> pos | 3 logits | weighted F1 of the predicted polarity |
| ``sentiment7`` | round(clip(score, -3, 3)) + 3 (Acc-7 bins) | 7 logits | weighted F1 of the predicted polarity |
| ``regression`` | the score | 1 output | Has0 weighted F1 (plus every MMSA metric) |
| ``native`` | class ids of a native-class dataset (IEMOCAP-style) | C logits | weighted F1 over classes |
| ``multi_regression`` | K continuous targets on their own scale (POM's 17 scores; ICT-MMMO's 1-5 score, K = 1) | K outputs | none: ``MAE`` / ``Corr`` per target and averaged |

``multi_regression`` is the only kind for ``label_kind="multi"`` data, and the sentiment kinds
(``polarity2`` ... ``regression``) are refused for scores on a scale without a neutral zero
(``score_range`` starting at >= 0, e.g. ICT-MMMO's 1-5): there "score >= 0 is positive" would
be true of every sample. It learns standardised targets ((y - mean) / std with the training
split's per-target statistics, `DatasetInfo.target_mean` / ``target_std``, kept in the task so a
checkpoint predicts on the original scale): its loss is the L1 on that scale averaged over
targets, and its ``score`` is on the original scale, (B, K), or (B,) when K = 1.

For binned sentiment, the predicted ``score`` is the expectation of the class centres on the
sentiment scale (polarity2: -1/+1; sentiment3: -1/0/+1; sentiment7: -3..3), and the predicted
polarity is ``score >= 0`` under the Has0 convention. With 2 classes the non-target part of
CorrKD's RCD is degenerate (spec §2.3); ``sentiment3``/``sentiment7`` avoid that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from robustmsa.data.schema import DatasetInfo
from robustmsa.types import Prediction

TASK_KINDS = ("polarity2", "sentiment3", "sentiment7", "regression", "native", "multi_regression")
SENTIMENT_KINDS = ("polarity2", "sentiment3", "sentiment7", "regression")
_CENTRES = {
    "polarity2": (-1.0, 1.0),
    "sentiment3": (-1.0, 0.0, 1.0),
    "sentiment7": (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0),
}
_NAMES = {
    "polarity2": ("negative", "positive"),
    "sentiment3": ("negative", "neutral", "positive"),
    "sentiment7": ("-3", "-2", "-1", "0", "+1", "+2", "+3"),
}


@dataclass(frozen=True)
class Task:
    """A task mode bound to a dataset's label kind.

    Attributes:
        kind: one of ``TASK_KINDS``.
        class_names: names of the C classes (empty for regression).
        target_names: names of the K targets of ``multi_regression`` (empty otherwise).
        target_mean, target_std: the training split's per-target label statistics
            (``multi_regression``; empty = no standardisation).
    """

    kind: str
    class_names: tuple[str, ...] = ()
    target_names: tuple[str, ...] = ()
    target_mean: tuple[float, ...] = ()
    target_std: tuple[float, ...] = ()

    @classmethod
    def build(cls, kind: str, info: DatasetInfo) -> Task:
        if kind not in TASK_KINDS:
            raise ValueError(f"task.kind {kind!r} unknown; valid: {', '.join(TASK_KINDS)}")
        if info.label_kind == "class" and kind != "native":
            raise ValueError(
                f"dataset {info.name!r} has native class labels; use task.kind='native'"
            )
        if info.label_kind != "class" and kind == "native":
            raise ValueError(f"dataset {info.name!r} has sentiment scores; 'native' needs classes")
        if info.label_kind == "multi" and kind != "multi_regression":
            raise ValueError(f"dataset {info.name!r} has {len(info.target_names)} targets per "
                             "sample; use task.kind='multi_regression'")
        if kind in SENTIMENT_KINDS and info.score_range[0] >= 0:
            lo, hi = info.score_range
            raise ValueError(
                f"dataset {info.name!r} has scores in [{lo:g}, {hi:g}], a scale without a "
                f"sentiment zero, so {kind!r} (which splits at score 0) does not apply; use "
                "task.kind='multi_regression' (or a class variant of the dataset with 'native')")
        if kind == "multi_regression":
            return cls(kind=kind, target_names=tuple(info.target_names) or ("score",),
                       target_mean=tuple(info.target_mean), target_std=tuple(info.target_std))
        names = info.class_names if kind == "native" else _NAMES.get(kind, ())
        return cls(kind=kind, class_names=tuple(names))

    @property
    def is_classification(self) -> bool:
        return self.kind not in ("regression", "multi_regression")

    @property
    def num_outputs(self) -> int:
        if self.kind == "multi_regression":
            return len(self.target_names)
        return len(self.class_names) if self.is_classification else 1

    def targets(self, labels: Tensor) -> Tensor:
        """Training targets from batch labels: (B,) long classes or (B,) float scores."""
        if self.kind == "multi_regression":
            y = labels.float()
            if self.target_mean:  # standardised with the training split's statistics
                mu = torch.tensor(self.target_mean, dtype=y.dtype, device=y.device)
                sd = torch.tensor(self.target_std, dtype=y.dtype, device=y.device)
                y = ((y.reshape(y.shape[0], -1) - mu) / sd).reshape(y.shape)
            return y
        if self.kind in ("native", "regression"):
            return labels.long() if self.kind == "native" else labels.float()
        y = labels.float()
        if self.kind == "polarity2":
            return (y >= 0).long()
        if self.kind == "sentiment3":
            return (torch.sign(y) + 1).long()
        return (torch.round(torch.clamp(y, -3, 3)) + 3).long()

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Cross-entropy (classification) or L1 (regression, the MSA convention)."""
        t = self.targets(labels)
        if self.is_classification:
            return F.cross_entropy(logits, t)
        if self.kind == "multi_regression":
            return F.l1_loss(logits, t.reshape(logits.shape))  # (B, K): mean over targets
        return F.l1_loss(logits.squeeze(-1), t)

    def predict(self, logits: Tensor) -> Prediction:
        """Scores (and class probabilities) from raw outputs (B, C)."""
        if not self.is_classification:
            if self.kind == "multi_regression":
                if self.target_mean:  # back to the original scale
                    logits = logits * torch.tensor(self.target_std, dtype=logits.dtype,
                                                   device=logits.device) + torch.tensor(
                        self.target_mean, dtype=logits.dtype, device=logits.device)
                return Prediction(score=logits if logits.shape[-1] > 1 else logits.squeeze(-1))
            return Prediction(score=logits.squeeze(-1), probs=None)
        probs = logits.softmax(-1)
        if self.kind == "native":
            return Prediction(score=probs.argmax(-1).float(), probs=probs)
        centres = torch.tensor(_CENTRES[self.kind], dtype=probs.dtype, device=probs.device)
        return Prediction(score=probs @ centres, probs=probs)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "class_names": list(self.class_names),
                "target_names": list(self.target_names), "target_mean": list(self.target_mean),
                "target_std": list(self.target_std)}

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        return cls(kind=d["kind"], class_names=tuple(d.get("class_names", ())),
                   target_names=tuple(d.get("target_names", ())),
                   target_mean=tuple(d.get("target_mean", ())),
                   target_std=tuple(d.get("target_std", ())))

    def metrics(self, score: np.ndarray, probs: np.ndarray | None, labels: np.ndarray) -> dict:
        """Unrounded metrics for one evaluation condition (see `robustmsa.metrics`)."""
        from robustmsa.evaluation.task_metrics import task_metrics

        return task_metrics(self.kind, score, probs, labels, self.class_names,
                            self.target_names)
