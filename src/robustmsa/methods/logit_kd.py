"""``logit_kd``: Hinton KD from a frozen complete-input teacher to an MRM-input student.

Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", NIPS-W 2015.
L = task + kd_weight * T^2 KL(softmax(z_t / T) || softmax(z_s / T)).

Deviations from the paper:
- Applied to missing modalities as CorrKD's KD baseline: the student sees MRM input; missing
  input follows ``model.missing_input`` (default ``"zeros"``, CorrKD's protocol).
"""

from __future__ import annotations

from dataclasses import dataclass

from robustmsa.losses.distill import logit_kd
from robustmsa.methods.base import register_method
from robustmsa.methods.kd_base import FrozenTeacherMethod
from robustmsa.types import Batch, MethodOutput


@dataclass
class LogitKDConfig:
    """Attributes: temperature: softening T (Hinton); kd_weight: weight of the KD term."""

    temperature: float = 4.0
    kd_weight: float = 1.0


@register_method("logit_kd")
class LogitKD(FrozenTeacherMethod):
    distill_terms = ("kd",)
    Config = LogitKDConfig

    def forward(self, batch: Batch) -> MethodOutput:
        s, t = self.pair(batch)
        task = self.task.loss(s.logits, batch.labels)
        kd = logit_kd(s.logits, t.logits, self.cfg.temperature,
                      regression=not self.task.is_classification)  # multi-target: MSE
        return MethodOutput(loss=task + self.cfg.kd_weight * kd, losses={"task": task, "kd": kd},
                            weights={"task": 1.0, "kd": self.cfg.kd_weight})
