"""Core types shared by every layer: modality names, the `Batch` and method outputs.

Modalities are string keys, never positions. ``MODALITIES`` fixes the canonical order used for
the columns of the ``present`` matrix and for iteration everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from robustmsa.errors import UnknownNameError

MODALITIES: tuple[str, ...] = ("text", "audio", "vision")
SHORT_NAMES: dict[str, str] = {"t": "text", "a": "audio", "v": "vision"}
LONG_TO_SHORT: dict[str, str] = {v: k for k, v in SHORT_NAMES.items()}


def modality_index(modality: str) -> int:
    """Column of ``modality`` in the ``present`` matrix."""
    if modality not in MODALITIES:
        raise UnknownNameError(f"unknown modality {modality!r}; valid: {', '.join(MODALITIES)}")
    return MODALITIES.index(modality)


@dataclass(frozen=True)
class Batch:
    """A collated mini-batch.

    Attributes:
        features: modality -> (B, T_m, D_m) float features; missing entries are exactly 0.
        frame_mask: modality -> (B, T_m) bool, True where a frame is valid *and* not dropped.
        lengths: modality -> (B,) long, true (unpadded) lengths before any dropping.
        present: (B, M) bool, modality-level availability, columns in ``MODALITIES`` order.
        labels: (B,) float sentiment score, or (B,) long class id for native-class datasets.
        ids: sample ids (length B).
        index: (B,) long, row of each sample in its split (used to seed masks).
        extras: optional extra streams (e.g. ``"text_sim"`` substitute features for DFSD),
            name -> (B, T, D) tensor; ``"text_sim_mask"`` holds its (B, T) frame mask.
        train_mask: an optional `MissingMask` drawn by the trainer's training sampler; methods
            that learn on incomplete input apply it themselves (teachers ignore it).
        groups: the video / dialogue of each sample (``MSASplit.groups``), or None when the
            data has no grouping. Conversation-level methods (GCNet) build their graphs over
            the samples of each group present in the batch.
    """

    features: dict[str, Tensor]
    frame_mask: dict[str, Tensor]
    lengths: dict[str, Tensor]
    present: Tensor
    labels: Tensor
    ids: tuple[str, ...]
    index: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)
    train_mask: object | None = None
    groups: tuple[str, ...] | None = None

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.features)

    def to(self, device: torch.device | str) -> Batch:
        """Copy of the batch on ``device``."""
        mv = {k: v.to(device) for k, v in self.features.items()}
        fm = {k: v.to(device) for k, v in self.frame_mask.items()}
        ln = {k: v.to(device) for k, v in self.lengths.items()}
        ex = {k: v.to(device) for k, v in self.extras.items()}
        tm = self.train_mask.to(device) if self.train_mask is not None else None
        return replace(
            self,
            features=mv,
            frame_mask=fm,
            lengths=ln,
            present=self.present.to(device),
            labels=self.labels.to(device),
            index=self.index.to(device),
            extras=ex,
            train_mask=tm,
        )

    def select(self, rows: Tensor) -> Batch:
        """Sub-batch with the given row indices (or bool mask)."""
        if rows.dtype == torch.bool:
            rows = rows.nonzero(as_tuple=True)[0]
        idx = rows.tolist()
        tm = self.train_mask.select(rows) if self.train_mask is not None else None
        return replace(
            self,
            features={k: v[rows] for k, v in self.features.items()},
            frame_mask={k: v[rows] for k, v in self.frame_mask.items()},
            lengths={k: v[rows] for k, v in self.lengths.items()},
            present=self.present[rows],
            labels=self.labels[rows],
            ids=tuple(self.ids[i] for i in idx),
            index=self.index[rows],
            extras={k: v[rows] for k, v in self.extras.items()},
            train_mask=tm,
            groups=None if self.groups is None else tuple(self.groups[i] for i in idx),
        )


@dataclass
class MethodOutput:
    """What a method's ``forward`` returns during training.

    Attributes:
        loss: the scalar to back-propagate (already weighted and summed by the method).
        losses: every named component, unweighted, for logging (detached by the trainer).
        weights: the weight each named component has in ``loss`` at this step, so that
            ``loss == sum(weights[k] * losses[k] for k in losses)`` (a warm-up ramp is part of
            the weight). A term missing from ``weights`` has weight 1; a logged-only term has
            weight 0. The trainer's loss-balance diagnostics (`robustmsa.engine.diagnostics`)
            rely on this identity; the method contract tests check it for every method.
    """

    loss: Tensor
    losses: dict[str, Tensor]
    weights: dict[str, float] = field(default_factory=dict)

    def weight(self, name: str) -> float:
        """Weight of term ``name`` in ``loss`` (1 when not stated)."""
        return float(self.weights.get(name, 1.0))


@dataclass
class Prediction:
    """Inference output of a model on one batch.

    Attributes:
        score: (B,) float — sentiment score (regression), or the expected score under the
            predicted class distribution for binned-sentiment classification.
        probs: (B, C) class probabilities for classification tasks, else None.
    """

    score: Tensor
    probs: Tensor | None = None
