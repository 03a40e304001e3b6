"""``mmin``: Missing Modality Imagination Network.

Jinming Zhao, Ruichen Li, Qin Jin. "Missing Modality Imagination Network for Emotion
Recognition with Uncertain Missing Modalities." ACL 2021. Mechanism learned from the
authors' code ``AIM3-RUC/MMIN`` (``models/mmin_model.py``, ``models/networks/autoencoder.py``,
``data/multimodal_miss_dataset.py``) via the spec ``field_baselines.md`` §5; our own code.

Per-modality encoders give utterance embeddings whose concatenation h (missing modalities
zero-filled at the input) enters a cascade residual autoencoder (CRA,
`robustmsa.nn.autoencoder.CascadeResidualAE`) that "imagines" h_hat; the classifier reads the
concatenated block latents z. The imagination target is the frozen, complete-data pre-trained
teacher's embedding of the *reverse* input (present modalities removed, missing ones kept); a
second CRA maps h_hat back to h (backward / cycle imagination, training only):

    L = task(C(z), y) + 4 * MSE(h_hat, t) + 2 * MSE(CRA_cyc(h_hat), sg(h))

(weights of the authors' scripts; the target is not masked to the missing slots, as in the
code). Stage 1 = the project's ``teacher`` run (complete input); stage 2 = this method, with
the student encoders initialised from the teacher's and trained further; the teacher stays
frozen (``teacher_mode = "frozen"``; give ``teacher=PATH/best.pt``).

Training missingness (``train_missing = "random_subset"``): every training sample keeps one of
the six incomplete subsets {t, a, v, ta, tv, av}, uniformly, re-drawn every epoch; the
complete condition is never used for the student (the paper's "all six possible missing
modality conditions"). Inference: zero-filled input -> encoders -> CRA -> classifier; no flag
says which modality is missing. Missing-input convention: that of ``model.missing_input``
through the shared backbone encoders (zeros = the paper's zero-filled input).

Deviations from the paper / code:
- Encoders: the project backbone's per-modality Conv1d + Transformer encoders with masked mean
  pooling (``model.*``; the teacher's architecture), not LSTM+max-pool / TextCNN (IEMOCAP) or
  the MOSI port's MLPs; so h has 3 * ``model.d_model`` dimensions (code: 3 * 128).
- CRA widths 128,64,32 with 3 blocks (the code's option defaults; the IEMOCAP script's
  256,128,64 x 5 is sized for a 384-d h); classifier 128,128, dropout 0.5 (script).
- One Adam and one global gradient clip (the trainer's); the code uses beta1 = 0.5, a linear
  learning-rate decay and a 1.0 clip per sub-network.
- The task loss is the project's (CE for classes, L1 for regression; MOSI port: MSE).
- Validation: mean F1 over complete + the six subsets on fixed masks (code: UAR over the six
  replicated conditions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustmsa.data.schema import DatasetInfo
from robustmsa.methods.base import FrozenTeacher, Method, register_method
from robustmsa.missing import MissingMask, apply_missing
from robustmsa.nn.autoencoder import CascadeResidualAE
from robustmsa.nn.backbone import BackboneConfig, MultimodalNet
from robustmsa.nn.layers import MLP
from robustmsa.tasks import Task
from robustmsa.types import Batch, MethodOutput, Prediction


@dataclass
class MMINConfig:
    """MMIN hyper-parameters.

    Attributes:
        ae_layers: CRA encoder widths (code default 128,64,32).
        n_blocks: CRA blocks (code default 3).
        cls_layers: hidden widths of the classifier (code 128,128).
        dropout: classifier dropout (script 0.5).
        task_weight, imagination_weight, cycle_weight: loss weights (script 1 / 4 / 2).
        share_cycle: the backward CRA shares the forward one's weights (code ``--share_weight``).
        init_from_teacher: start the student encoders from the teacher's (code: yes).
    """

    ae_layers: list[int] = field(default_factory=lambda: [128, 64, 32])
    n_blocks: int = 3
    cls_layers: list[int] = field(default_factory=lambda: [128, 128])
    dropout: float = 0.5
    task_weight: float = 1.0
    imagination_weight: float = 4.0
    cycle_weight: float = 2.0
    share_cycle: bool = False
    init_from_teacher: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}")
        if min(self.task_weight, self.imagination_weight, self.cycle_weight) < 0:
            raise ValueError("loss weights must be >= 0")


def reverse_mask(batch: Batch, mask: MissingMask | None) -> MissingMask:
    """The complement of ``mask`` at modality level: only the modalities the mask removed
    (and the data has) are present, with all their frames (the teacher's input)."""
    removed = batch.present & ~(mask.present if mask is not None else batch.present)
    keep = {m: torch.ones_like(batch.frame_mask[m]) for m in batch.modalities}
    return MissingMask(present=removed, keep=keep, modalities=batch.modalities)


@register_method("mmin")
class MMIN(Method):
    Config = MMINConfig
    distill_terms = ("imagination", "cycle")
    teacher_mode = "frozen"
    train_missing = "random_subset"

    def __init__(self, cfg: MMINConfig, info: DatasetInfo, task: Task, model: BackboneConfig,
                 teacher: MultimodalNet | None = None) -> None:
        super().__init__(cfg, info, task, model)
        enc = self.new_encoders()
        if teacher is not None and cfg.init_from_teacher:
            enc.encoders.load_state_dict(teacher.encoders.state_dict())
        cra = CascadeResidualAE(enc.joint_dim, cfg.ae_layers, cfg.n_blocks)
        cls = MLP([cra.latent_dim, *cfg.cls_layers, task.num_outputs], dropout=cfg.dropout)
        self.student = nn.ModuleDict({"backbone": enc, "cra": cra, "classifier": cls})
        self.cycle = cra if cfg.share_cycle else CascadeResidualAE(
            enc.joint_dim, cfg.ae_layers, cfg.n_blocks)  # training only
        self.teacher = FrozenTeacher(teacher) if teacher is not None else None

    def imagine(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """(h (B, M*d), h_hat (B, M*d), logits (B, C)) for an already masked batch."""
        h = self.student["backbone"].encode(batch)[0]
        h_hat, z = self.student["cra"](h)
        return h, h_hat, self.student["classifier"](z)

    def forward(self, batch: Batch) -> MethodOutput:
        if self.teacher is None:
            raise RuntimeError("method 'mmin' needs a trained teacher for training "
                               "(pass teacher=PATH/best.pt)")
        masked = apply_missing(batch, batch.train_mask)
        h, h_hat, logits = self.imagine(masked)
        target = self.teacher(apply_missing(batch, reverse_mask(batch, batch.train_mask))).joint
        cyc, _ = self.cycle(h_hat)
        losses = {
            "task": self.task.loss(logits, batch.labels),
            "imagination": F.mse_loss(h_hat, target),
            "cycle": F.mse_loss(cyc, h.detach()),
        }
        c = self.cfg
        loss = (c.task_weight * losses["task"] + c.imagination_weight * losses["imagination"]
                + c.cycle_weight * losses["cycle"])
        weights = {"task": c.task_weight, "imagination": c.imagination_weight,
                   "cycle": c.cycle_weight}
        return MethodOutput(loss=loss, losses=losses, weights=weights)

    def predict(self, batch: Batch) -> Prediction:
        return self.task.predict(self.imagine(batch)[2])
