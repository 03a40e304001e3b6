"""Shared skeleton of frozen-teacher distillation methods (not registered itself)."""

from __future__ import annotations

from robustmsa.methods.base import FrozenTeacher, Method
from robustmsa.missing import apply_missing
from robustmsa.nn.backbone import MultimodalNet, NetOutput
from robustmsa.types import Batch


class FrozenTeacherMethod(Method):
    """Student on MRM input + frozen teacher on complete input.

    Subclasses implement ``distill(batch, student_out, teacher_out) -> dict of losses`` and
    read weights from their config.
    """

    teacher_mode = "frozen"
    train_missing = "mrm"

    def __init__(self, cfg, info, task, model, teacher: MultimodalNet | None = None) -> None:
        super().__init__(cfg, info, task, model)
        self.student = self.new_backbone()
        self.teacher = FrozenTeacher(teacher) if teacher is not None else None

    def pair(self, batch: Batch) -> tuple[NetOutput, NetOutput]:
        """Teacher output on complete input, student output on the masked input."""
        s_out, t_out, _ = self.pair_with_input(batch)
        return s_out, t_out

    def pair_with_input(self, batch: Batch) -> tuple[NetOutput, NetOutput, Batch]:
        """`pair` plus the student's (masked) input batch."""
        if self.teacher is None:
            raise RuntimeError(
                f"method {self.name!r} needs a trained teacher for training "
                "(pass --teacher PATH/best.pt, or train the 'teacher' method first)"
            )
        t_out = self.teacher(batch)
        masked = apply_missing(batch, batch.train_mask)
        return self.student(masked), t_out, masked
