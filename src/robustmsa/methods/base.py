"""The `Method` interface shared by every method, the registry, and `FrozenTeacher`.

A method is one ``nn.Module`` that owns its deployable network(s), any training-only helpers
(statistics networks, projections) and its teacher, and returns a dict of named losses. The
trainer knows nothing else about it.

Teacher modes (``teacher_mode``), checked by the contract tests:
- ``"none"``: no teacher (``teacher``, ``student``);
- ``"frozen"``: a pre-trained teacher, frozen, eval mode, no grad (``logit_kd``, ``corrkd``...);
- ``"online"``: teacher trained together with the students (``mmckd``);
- ``"self"``: the teacher is a stop-gradient pass of the same network (``casd``, ``dfsd``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from robustmsa.data.schema import DatasetInfo
from robustmsa.nn.backbone import BackboneConfig, MultimodalNet
from robustmsa.registry import Registry
from robustmsa.tasks import Task
from robustmsa.types import Batch, MethodOutput, Prediction

METHODS: Registry[type[Method]] = Registry("method")


def register_method(name: str):
    """Class decorator: register a `Method` subclass under ``name`` and set ``cls.name``."""

    def deco(cls: type[Method]) -> type[Method]:
        cls.name = name
        return METHODS.register(name)(cls)

    return deco


@dataclasses.dataclass
class NoConfig:
    """Methods without hyper-parameters of their own."""


class Method(nn.Module):
    """Base class. Subclasses set ``Config``, ``teacher_mode`` and implement the hooks.

    Attributes:
        name: registry key (set by `register_method`).
        teacher_mode: "none" | "frozen" | "online" | "self".
        train_missing: the training-time missingness the method expects from the trainer by
            default (a condition string such as ``"mrm"``), or None for complete input.
        Config: the method's hyper-parameter dataclass.
        train_requires: modalities the method cannot train without: a training split where no
            sample has one of them is refused with one line naming it
            (`robustmsa.data.natural.check_trainable`); ``train_requires_why`` says why. A
            class attribute, or set on the instance when the config decides it (MCTN's
            source, TransM's pivot).
        group_batches: True when the method models the samples of one group (the utterances
            of a video) together: the trainer and the evaluator then build batches of whole
            groups (`robustmsa.data.groups.batch_rows`), and training needs a grouped dataset.
    """

    name: ClassVar[str] = ""
    teacher_mode: ClassVar[str] = "none"
    train_missing: ClassVar[str | None] = None
    Config: ClassVar[type] = NoConfig
    train_requires: tuple[str, ...] = ()  # may be set per instance (docstring)
    train_requires_why: str = ""
    group_batches: ClassVar[bool] = False
    # Conditions on which the validation score used for model selection is averaged.
    select_conditions: ClassVar[tuple[str, ...]] = ("complete", "t", "a", "v", "ta", "tv", "av")
    # Names of the method's distinctive distillation / consistency terms in ``forward``'s
    # losses. The contract tests require each (when its weight is non-zero) to send a
    # non-zero gradient to the deployable parameters; the loss-balance report marks them.
    distill_terms: ClassVar[tuple[str, ...]] = ()

    def __init__(self, cfg: Any, info: DatasetInfo, task: Task, model: BackboneConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.info = info
        self.task = task
        self.model_cfg = model

    # --- construction -------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        cfg: Any,
        *,
        info: DatasetInfo,
        task: Task,
        model: BackboneConfig,
        teacher: MultimodalNet | None = None,
    ) -> Method:
        """Build the method. ``teacher`` is required for training frozen-teacher methods and
        may be None when the method is rebuilt for inference from a checkpoint."""
        if cls.teacher_mode != "frozen" and teacher is not None:
            raise ValueError(f"method {cls.name!r} does not take a pre-trained teacher")
        return cls(cfg, info, task, model, teacher) if cls.teacher_mode == "frozen" else cls(
            cfg, info, task, model
        )

    def new_backbone(self) -> MultimodalNet:
        return MultimodalNet(self.info.dims, self.task.num_outputs, self.model_cfg)

    def new_encoders(self) -> MultimodalNet:
        """The backbone's per-modality encoders and pooling (``.encode(batch)``; parameter
        names as in the teacher) without its task head, for methods with their own fusion."""
        net = self.new_backbone()
        net.head = nn.Identity()
        return net

    # --- the interface the trainer / evaluator use --------------------------------------
    def forward(self, batch: Batch) -> MethodOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, batch: Batch) -> Prediction:
        """Inference with the deployable network(s) on an (already masked) batch."""
        return self.task.predict(self.deployable()(batch).logits)

    def deployable(self) -> nn.Module:
        """The network(s) shipped in the deployable checkpoint (the student)."""
        return self.student  # type: ignore[attr-defined]

    def deployable_state_dict(self) -> dict[str, Tensor]:
        return {k: v.detach().clone() for k, v in self.deployable().state_dict().items()}

    def training_state_dict(self) -> dict[str, Tensor]:
        """Training-only state (statistics networks, projections...): everything trainable
        that is neither deployable nor a frozen teacher."""
        dep = {id(p) for p in self.deployable().parameters()}
        out = {}
        for n, p in self.named_parameters():
            if id(p) not in dep and p.requires_grad:
                out[n] = p.detach().clone()
        return out

    def trainable_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.named_parameters() if p.requires_grad]


class FrozenTeacher(nn.Module):
    """A pre-trained network used as a frozen teacher: no grad, always in eval mode."""

    def __init__(self, net: MultimodalNet) -> None:
        super().__init__()
        self.net = net
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.net.eval()

    def train(self, mode: bool = True) -> FrozenTeacher:  # noqa: ARG002 - stays in eval
        super().train(False)
        self.net.eval()
        return self

    @torch.no_grad()
    def forward(self, batch: Batch):
        return self.net(batch)


def config_from_dict(cls: type, values: dict[str, Any] | None, where: str) -> Any:
    """Build dataclass ``cls`` from ``values``, refusing unknown keys (names ``where``)."""
    from robustmsa.config import dataclass_from_dict

    return dataclass_from_dict(cls, values or {}, where)
