"""``mmckd``: Multi-Modal Contrastive Knowledge Distillation (MM-CKD).

Zhengxiao Sang, Kotaro Funakoshi, Manabu Okumura. "Contrastive Knowledge Distillation for
Robust Multimodal Sentiment Analysis." arXiv:2410.08692 (cs.MM, Oct 2024). No official code is
public and the method section is not available; this follows the reconstruction of the project
spec ``other_methods.md`` §2.3 (every formula there is [inferred]).

A complete-modality teacher and one student per incomplete modality subset (2^M - 2 students,
6 for text/audio/vision) are trained online together; nothing is frozen:

    L = task(T) + sum_k task(S_k) + mvsc_weight * MVSC

MVSC is SupCon over V = 2^M - 1 model views (`losses.contrastive.multiview_supcon`): positives
are the same sample in the other views and same-label samples in any view. Each model owns a
projection head (training only). Students own encoders only for their modalities, so they are
never fed zeros, and no random masking is needed (``train_missing = None``). At inference each
sample is routed to the model matching the modalities it actually has (``batch.present``).

Deviations from the paper (all [inferred] choices of the spec, or project choices):
- Backbone per model: the project's `ModalityEncoder` (Conv1d + PE + Transformer) per owned
  modality, masked mean pooling, concatenation, Linear-ReLU fusion to ``hidden_dim``, linear
  head. The paper's intra-/inter-modal fusion details are unknown.
- Label discretisation for the positives is unknown: default 7-class rounding of the score
  (round(clip(y, -3, 3))), task classes for native-class data; for ``multi_regression``
  (targets on their own scales, no class structure) "auto" means ``"sample"``: the only
  positives are the same sample's other views (no label positives).
- In-batch negatives (no memory bank); tau = 0.07 (SupCon default); lambda = 0.1. Measured
  (loss balance): at lambda = 0.1 MVSC is 0.2-0.6 % of the update on real MOSI (inert);
  lambda = 3, chosen on the validation split only (``benchmarks/tune.py ... mmckd``,
  ``benchmarks/results/tune_mmckd_mosi_bclstm_*.json``), gives it 28-44 %: the benchmarks'
  ``mmckd_tuned`` rows (``mmckd_tuned_wo_mvsc`` = lambda 0). On ``mosi_bclstm:score`` the
  contrast labels come from the scores (``auto`` = 7-class rounding).
- ``anchor_mode="teacher"`` contrasts each student view against the teacher view only.
- ``share_encoders=True`` (one unimodal encoder set for all models) is a cheaper project
  variant, not the paper's "six student models".
- The task loss is the project's task loss (L1 for regression, CE for classes).
- A sample with no modality present is routed to the teacher (all inputs empty: a learned
  constant prediction).
- The deployable checkpoint holds every model, keyed by its modality subset ("tav" is the
  teacher), since inference needs all of them.
- Missing input: the encoders follow ``model.missing_input`` (default ``"zeros"``: dropped
  frames of a present modality are seen as zero vectors; ``"mask"`` hides them). Absent
  modalities are never fed under either convention: routing each sample to the model of its
  available modalities (``batch.present``) is the method itself (the paper's six students),
  so MM-CKD always knows which modalities are absent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robustmsa.data.schema import DatasetInfo
from robustmsa.losses.contrastive import l2_normalize, multiview_supcon
from robustmsa.methods.base import Method, register_method
from robustmsa.missing import all_subsets, subset_name
from robustmsa.nn.backbone import BackboneConfig, ModalityEncoder, encoder_mask
from robustmsa.nn.layers import MLP, masked_mean
from robustmsa.tasks import Task
from robustmsa.types import Batch, MethodOutput, Prediction

CONTRAST_LABELS = ("auto", "sentiment7", "sentiment3", "polarity2", "task", "sample")


@dataclass
class MMCKDConfig:
    """MM-CKD hyper-parameters (all [unknown] in the paper; spec suggestions as defaults).

    Attributes:
        mvsc_weight: lambda, weight of the MVSC term (spec suggestion 0.1).
        temperature: MVSC temperature tau (SupCon default 0.07).
        anchor_mode: "all" (NV x NV contrast) or "teacher" (student anchors vs teacher view).
        proj_dim: output width of each projection head (SupCon convention 128).
        hidden_dim: width H of each model's fused representation; 0 = M * model.d_model.
        contrast_labels: how labels define positives: "auto" (7-class rounding of the score;
            task classes for native-class data), "sentiment7", "sentiment3", "polarity2"
            (binning of the score), "task" (the task's class targets) or "sample" (no label
            positives; "auto" for multi_regression).
        share_encoders: one unimodal encoder set shared by all models (cheaper; deviation).
    """

    mvsc_weight: float = 0.1
    temperature: float = 0.07
    anchor_mode: str = "all"
    proj_dim: int = 128
    hidden_dim: int = 0
    contrast_labels: str = "auto"
    share_encoders: bool = False

    def __post_init__(self) -> None:
        if self.anchor_mode not in ("all", "teacher"):
            raise ValueError(f"anchor_mode must be 'all' or 'teacher'; got {self.anchor_mode!r}")
        if self.contrast_labels not in CONTRAST_LABELS:
            raise ValueError(f"contrast_labels must be one of {CONTRAST_LABELS}; "
                             f"got {self.contrast_labels!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0; got {self.temperature}")
        if self.proj_dim < 1 or self.hidden_dim < 0:
            raise ValueError("proj_dim must be >= 1 and hidden_dim >= 0")


def encode_pooled(batch: Batch, encoders: nn.ModuleDict, modalities: tuple[str, ...],
                  missing_input: str = "zeros") -> dict[str, Tensor]:
    """modality -> (B, d) mean of the encoded sequence over the frames `encoder_mask` keeps."""
    out = {}
    for m in modalities:
        mask = encoder_mask(batch, m, missing_input)  # (B, T)
        out[m] = masked_mean(encoders[m](batch.features[m], mask), mask)
    return out


class SubsetNet(nn.Module):
    """One MM-CKD model over a fixed modality subset.

    Args:
        modalities: the modalities this model owns.
        dims: modality -> input width.
        model: encoder hyper-parameters.
        hidden_dim: width of the fused representation e.
        out_dim: task outputs.
        own_encoders: False when the encoders are shared and owned by the method.
    """

    def __init__(self, modalities: tuple[str, ...], dims: dict[str, int], model: BackboneConfig,
                 hidden_dim: int, out_dim: int, own_encoders: bool = True) -> None:
        super().__init__()
        self.modalities = modalities
        self.encoders = nn.ModuleDict(
            {m: ModalityEncoder(dims[m], model) for m in modalities}) if own_encoders else None
        self.fusion = nn.Sequential(nn.Linear(len(modalities) * model.d_model, hidden_dim),
                                    nn.ReLU(), nn.Dropout(model.dropout))
        self.head = nn.Linear(hidden_dim, out_dim)

    def forward(self, pooled: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """pooled: modality -> (B, d) -> (e (B, H), logits (B, C))."""
        e = self.fusion(torch.cat([pooled[m] for m in self.modalities], dim=-1))  # (B, k*d)->(B, H)
        return e, self.head(e)


@register_method("mmckd")
class MMCKD(Method):
    Config = MMCKDConfig
    distill_terms = ("mvsc",)
    teacher_mode = "online"
    train_missing = None

    def __init__(self, cfg: MMCKDConfig, info: DatasetInfo, task: Task,
                 model: BackboneConfig) -> None:
        super().__init__(cfg, info, task, model)
        mods = info.modalities
        self.modalities = mods
        self.full_key = subset_name(mods)
        self.label_kind = self._resolve_labels(cfg.contrast_labels)
        hidden = cfg.hidden_dim or len(mods) * model.d_model
        own = not cfg.share_encoders
        out = task.num_outputs
        self.encoders = None if own else nn.ModuleDict(
            {m: ModalityEncoder(info.dims[m], model) for m in mods})
        self.teacher = SubsetNet(mods, info.dims, model, hidden, out, own)
        self.students = nn.ModuleDict({
            subset_name(s): SubsetNet(s, info.dims, model, hidden, out, own)
            for s in all_subsets(mods) if len(s) < len(mods)
        })
        # training-only projection heads, one per model (SupCon: H -> H -> proj_dim)
        self.proj = nn.ModuleDict({k: MLP([hidden, hidden, cfg.proj_dim]) for k in self.nets()})

    def _resolve_labels(self, kind: str) -> str:
        is_class = self.info.label_kind == "class"
        if self.task.kind == "multi_regression":
            if kind not in ("auto", "sample"):
                raise ValueError(f"contrast_labels={kind!r} bins a sentiment score; "
                                 "multi_regression targets take 'auto' (= 'sample')")
            return "sample"
        if kind == "auto":
            return "task" if is_class else "sentiment7"
        if kind == "task" and not self.task.is_classification:
            raise ValueError("contrast_labels='task' needs a classification task")
        if is_class and kind not in ("task", "sample"):
            raise ValueError(f"contrast_labels={kind!r} bins scores; native classes need 'task'")
        return kind

    def contrast_labels(self, labels: Tensor) -> Tensor:
        """(B,) integer labels defining MVSC positives."""
        if self.label_kind == "sample":  # positives: the same sample in the other views
            return torch.arange(labels.shape[0], device=labels.device)
        if self.label_kind == "task":
            return self.task.targets(labels)
        return Task(kind=self.label_kind).targets(labels)

    def nets(self) -> dict[str, SubsetNet]:
        """Subset name -> model, teacher (the complete subset) first."""
        return {self.full_key: self.teacher, **dict(self.students.items())}

    def deployable(self) -> nn.Module:
        dep = nn.ModuleDict(self.nets())
        if self.encoders is not None:
            dep["encoders"] = self.encoders
        return dep

    def _shared(self, batch: Batch) -> dict[str, Tensor] | None:
        """Pooled features of the shared encoders (None when every model owns its own)."""
        if self.encoders is None:
            return None
        return encode_pooled(batch, self.encoders, self.modalities, self.model_cfg.missing_input)

    def _run(self, key: str, batch: Batch, shared: dict[str, Tensor] | None
             ) -> tuple[Tensor, Tensor]:
        net = self.nets()[key]
        pooled = shared if shared is not None else encode_pooled(
            batch, net.encoders, net.modalities, self.model_cfg.missing_input)
        return net(pooled)

    def forward(self, batch: Batch) -> MethodOutput:
        shared = self._shared(batch)
        losses, views = {}, []
        for key in self.nets():
            e, logits = self._run(key, batch, shared)
            name = "task_teacher" if key == self.full_key else f"task_{key}"
            losses[name] = self.task.loss(logits, batch.labels)
            views.append(l2_normalize(self.proj[key](e)))  # (B, P)
        z = torch.stack(views)  # (V, B, P)
        losses["mvsc"] = multiview_supcon(z, self.contrast_labels(batch.labels),
                                          temperature=self.cfg.temperature,
                                          anchor_mode=self.cfg.anchor_mode)
        weights = {k: (self.cfg.mvsc_weight if k == "mvsc" else 1.0) for k in losses}
        loss = sum(v for k, v in losses.items() if k != "mvsc")
        loss = loss + self.cfg.mvsc_weight * losses["mvsc"]
        return MethodOutput(loss=loss, losses=losses, weights=weights)

    def route(self, present: Tensor) -> list[tuple[str, Tensor]]:
        """Group rows by available-modality pattern: [(model key, row indices)].

        A row with no modality at all goes to the teacher.
        """
        bits = 2 ** torch.arange(present.shape[1], device=present.device)  # (M,)
        codes = (present.long() * bits).sum(1)  # (B,)
        groups = []
        for code in torch.unique(codes).tolist():
            mods = tuple(m for j, m in enumerate(self.modalities) if code >> j & 1)
            key = subset_name(mods) if mods else self.full_key
            groups.append((key, (codes == code).nonzero(as_tuple=True)[0]))
        return groups

    def predict(self, batch: Batch) -> Prediction:
        """Each sample is predicted by the model of the modalities it has."""
        shared = self._shared(batch)
        logits = None
        for key, rows in self.route(batch.present):
            sub = {m: v[rows] for m, v in shared.items()} if shared is not None else None
            _, lg = self._run(key, batch.select(rows), sub)
            if logits is None:
                logits = lg.new_zeros(batch.size, lg.shape[-1])
            logits[rows] = lg
        return self.task.predict(logits)
