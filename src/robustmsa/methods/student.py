"""``student``: the backbone trained on MRM-masked input with the task loss only.

The no-distillation baseline of CorrKD (same network, same missingness, no teacher).

Deviations from the paper (CorrKD's baseline):
- Missing input: ``model.missing_input`` (default ``"zeros"``: the MRM-dropped frames and
  modalities are zero vectors the encoders see, as in the paper; ``"mask"`` hides them).
"""

from __future__ import annotations

from robustmsa.data.schema import DatasetInfo
from robustmsa.methods.base import Method, NoConfig, register_method
from robustmsa.missing import apply_missing
from robustmsa.nn.backbone import BackboneConfig
from robustmsa.tasks import Task
from robustmsa.types import Batch, MethodOutput


@register_method("student")
class Student(Method):
    teacher_mode = "none"
    train_missing = "mrm"

    def __init__(self, cfg: NoConfig, info: DatasetInfo, task: Task, model: BackboneConfig
                 ) -> None:
        super().__init__(cfg, info, task, model)
        self.student = self.new_backbone()

    def forward(self, batch: Batch) -> MethodOutput:
        masked = apply_missing(batch, batch.train_mask)
        task = self.task.loss(self.student(masked).logits, batch.labels)
        return MethodOutput(loss=task, losses={"task": task}, weights={"task": 1.0})
