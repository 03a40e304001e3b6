"""``feature_kd``: MSE between the student's and the frozen teacher's joint representations.

Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015 (hint loss on H, no regressor
needed since teacher and student share the architecture).

Deviations from the paper:
- No regressor (same architecture); applied to missing modalities as CorrKD's KD baseline:
  the student sees MRM input; missing input follows ``model.missing_input`` (default
  ``"zeros"``, CorrKD's protocol). Under ``"zeros"`` the absent modalities' blocks of H are
  no longer exactly zero, so the hint loss can act on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustmsa.losses.distill import feature_kd
from robustmsa.methods.base import register_method
from robustmsa.methods.kd_base import FrozenTeacherMethod
from robustmsa.types import Batch, MethodOutput


@dataclass
class FeatureKDConfig:
    """Attributes: kd_weight: weight of the representation MSE."""

    kd_weight: float = 1.0


@register_method("feature_kd")
class FeatureKD(FrozenTeacherMethod):
    distill_terms = ("kd",)
    Config = FeatureKDConfig

    def forward(self, batch: Batch) -> MethodOutput:
        s, t = self.pair(batch)
        task = self.task.loss(s.logits, batch.labels)
        kd = feature_kd(s.joint, t.joint)
        return MethodOutput(loss=task + self.cfg.kd_weight * kd, losses={"task": task, "kd": kd},
                            weights={"task": 1.0, "kd": self.cfg.kd_weight})
