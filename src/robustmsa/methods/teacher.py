"""``teacher``: the backbone trained on complete input with the task loss only.

It is both a baseline (complete-modality model evaluated under missingness) and the frozen
teacher of the KD methods (CorrKD spec §3.2 step 1).

Deviations from the paper (CorrKD's teacher):
- Missing input: ``model.missing_input`` (default ``"zeros"``, the paper's zero-vector
  protocol). Trained on complete input, the convention only matters when the teacher is
  evaluated under missingness (and for naturally absent modalities); the same checkpoint can
  be evaluated under either (``evaluate --missing-input``). As a frozen teacher it runs under
  its student's convention.
"""

from __future__ import annotations

from robustmsa.data.schema import DatasetInfo
from robustmsa.methods.base import Method, NoConfig, register_method
from robustmsa.nn.backbone import BackboneConfig
from robustmsa.tasks import Task
from robustmsa.types import Batch, MethodOutput


@register_method("teacher")
class Teacher(Method):
    teacher_mode = "none"
    train_missing = None
    select_conditions = ("complete",)

    def __init__(self, cfg: NoConfig, info: DatasetInfo, task: Task, model: BackboneConfig
                 ) -> None:
        super().__init__(cfg, info, task, model)
        self.student = self.new_backbone()

    def forward(self, batch: Batch) -> MethodOutput:
        task = self.task.loss(self.student(batch).logits, batch.labels)
        return MethodOutput(loss=task, losses={"task": task}, weights={"task": 1.0})
