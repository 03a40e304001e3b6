"""``transm``: TransModality, Transformer translation between modality pairs as fusion.

Zilong Wang, Zhaohong Wan, Xiaojun Wan. "TransModality: An End2End Fusion Method with
Transformer for Multimodal Sentiment Analysis." WWW 2020 (arXiv:2009.02902). No official code
is public; the mechanism follows the paper's abstract and the third-party Keras code
``hyeonJeongByeon/TransModality`` as summarised in the spec ``field_baselines.md`` §2; our
own implementation.

Per modality a bidirectional GRU + Dense(tanh) gives the unimodal sequence u_m. For every
non-pivot modality o, one modality fusion cell (`robustmsa.nn.seq2seq.TranslationCell`) with
the text pivot p: Enc1(u_p) -> e1, Dec1(u_o | e1) -> d1 -> o_hat (forward translation),
Enc2(d1) -> e2, Dec2(u_p | e2) -> d2 -> p_hat (backward translation). The classifier reads the
concatenation of the valid-frame means of [e1, e2] of every cell and of every u_m:

    L = task(y_hat, y) + 10 * sum_cells [MAE(o_hat, x_o) + MAE(p_hat, x_p)]

(MAE over valid frames on the raw input features; weight 10 as the third-party code's
loss weights 10/10/10/10/1).

Training missingness: none (``train_missing = None``: TransM is a complete-modality fusion
method; ``train.missing`` may add one). At test a missing modality is zero at the input and
what the Transformer keys and the mean pooling see of it follows ``model.missing_input``
(`robustmsa.nn.backbone.encoder_mask`): ``zeros`` (default, the papers' zero-filling) = the
zero frames are seen; ``mask`` = they are ignored (a missing stream pools to 0). The method
has no imputation of its own; the translation targets are always the real, kept frames.
A training split where no sample has the pivot is refused (``train_requires`` = the pivot:
every cell translates from it), e.g. ICT-MMMO's text-less train split with the default pivot;
``method_config.pivot=audio`` trains there and on POM.

Deviations from the paper / third-party code:
- Sequence axis = time steps of one utterance (the project's utterance batching); the
  third-party code runs over the utterances of a video. On ``mosi_bclstm`` every sequence has
  one step.
- Widths and depths from the shared ``model.*`` settings (d_model, num_heads, ffn_dim,
  num_layers per stack, dropout) instead of d = 100, 5 heads, 10 encoder + 5 decoder layers
  (CPU cost); ``enc_layers`` / ``dec_layers`` override.
- Linear translation heads (the code's ReLU heads cannot produce the negative values of
  standardised features); sinusoidal positions added to u_m before the cells.
- The task loss is the project's (CE for classes, L1 for regression).
- Selection on the validation split (the script validates on test).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robustmsa.data.schema import DatasetInfo
from robustmsa.losses.reconstruction import masked_frame_loss
from robustmsa.methods.base import Method, register_method
from robustmsa.missing import apply_missing
from robustmsa.nn.backbone import BackboneConfig, encoder_mask
from robustmsa.nn.layers import masked_mean, sinusoidal_positions
from robustmsa.nn.seq2seq import TranslationCell
from robustmsa.tasks import Task
from robustmsa.types import MODALITIES, Batch, MethodOutput, Prediction


@dataclass
class TransMConfig:
    """TransM hyper-parameters.

    Attributes:
        pivot: the modality every cell translates from and back to (paper: text).
        translation_weight: weight of each MAE translation term (third-party code 10).
        enc_layers, dec_layers: layers per encoder / decoder stack; 0 = ``model.num_layers``
            (code 10 / 5).
    """

    pivot: str = "text"
    translation_weight: float = 10.0
    enc_layers: int = 0
    dec_layers: int = 0

    def __post_init__(self) -> None:
        if self.pivot not in MODALITIES:
            raise ValueError(f"pivot must be one of {MODALITIES}; got {self.pivot!r}")
        if self.translation_weight < 0 or min(self.enc_layers, self.dec_layers) < 0:
            raise ValueError("translation_weight, enc_layers and dec_layers must be >= 0")


class UnimodalGRU(nn.Module):
    """Bidirectional GRU (concatenated directions) + Dense(tanh): (B, T, D_m) -> (B, T, d)."""

    def __init__(self, in_dim: int, d: int) -> None:
        super().__init__()
        self.rnn = nn.GRU(in_dim, d, batch_first=True, bidirectional=True)
        self.dense = nn.Linear(2 * d, d)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.dense(self.rnn(x)[0]))


def _mask(batch: Batch, m: str, missing_input: str = "mask") -> Tensor:
    """(B, T) frames of ``m`` that are seen (`encoder_mask`); "mask" = the real, kept frames."""
    return encoder_mask(batch, m, missing_input)


@register_method("transm")
class TransM(Method):
    Config = TransMConfig
    # the translation terms of the default pivot (text)
    distill_terms = ("text_to_audio", "audio_to_text", "text_to_vision", "vision_to_text")
    teacher_mode = "none"
    train_missing = None

    def __init__(self, cfg: TransMConfig, info: DatasetInfo, task: Task,
                 model: BackboneConfig) -> None:
        super().__init__(cfg, info, task, model)
        mods = info.modalities
        if cfg.pivot not in mods or len(mods) < 2:
            raise ValueError(f"transm needs the pivot {cfg.pivot!r} and another modality; "
                             f"data has {list(mods)}")
        d = model.d_model
        self.train_requires = (cfg.pivot,)
        self.train_requires_why = ("every fusion cell translates from and back to its pivot; "
                                   "choose another with method_config.pivot, e.g. pivot=audio")
        self.others = tuple(m for m in mods if m != cfg.pivot)
        enc_l, dec_l = cfg.enc_layers or model.num_layers, cfg.dec_layers or model.num_layers
        self.student = nn.ModuleDict({
            "unimodal": nn.ModuleDict({m: UnimodalGRU(info.dims[m], d) for m in mods}),
            "cells": nn.ModuleDict({o: TranslationCell(d, model.num_heads, model.ffn_dim, enc_l,
                                                       dec_l, model.dropout)
                                    for o in self.others}),
            "drop": nn.Dropout(model.dropout),
            "head": nn.Linear(d * (2 * len(self.others) + len(mods)), task.num_outputs),
        })
        self.heads = nn.ModuleDict({  # translation outputs: training only
            o: nn.ModuleDict({"to_other": nn.Linear(d, info.dims[o]),
                              "to_pivot": nn.Linear(d, info.dims[cfg.pivot])})
            for o in self.others})
        self.register_buffer("pe", sinusoidal_positions(max(info.seq_lens.values()), d),
                             persistent=False)

    def _pos(self, u: Tensor) -> Tensor:
        t = u.shape[1]
        if t > self.pe.shape[0]:
            self.pe = sinusoidal_positions(t, self.pe.shape[1]).to(self.pe.device)
        return u + self.pe[:t]

    def run(self, batch: Batch, backward: bool = True
            ) -> tuple[Tensor, dict[str, tuple[Tensor, Tensor | None]]]:
        """-> logits (B, C) and, per cell, the (forward d1, backward d2) decoder states."""
        p, st = self.cfg.pivot, self.student
        masks = {m: _mask(batch, m, self.model_cfg.missing_input) for m in batch.modalities}
        u = {m: st["unimodal"][m](batch.features[m]) for m in batch.modalities}
        pooled, states = [], {}
        for o in self.others:
            e1, d1, e2, d2 = st["cells"][o](self._pos(u[p]), masks[p], self._pos(u[o]), masks[o],
                                            backward)
            pooled += [masked_mean(e1, masks[p]), masked_mean(e2, masks[o])]
            states[o] = (d1, d2)
        pooled += [masked_mean(u[m], masks[m]) for m in batch.modalities]
        return st["head"](st["drop"](torch.cat(pooled, dim=-1))), states

    def forward(self, batch: Batch) -> MethodOutput:
        masked = apply_missing(batch, batch.train_mask)
        logits, states = self.run(masked)
        p = self.cfg.pivot
        losses = {"task": self.task.loss(logits, batch.labels)}
        trans = logits.new_zeros(())
        for o, (d1, d2) in states.items():
            fwd = masked_frame_loss(self.heads[o]["to_other"](d1), batch.features[o],
                                    _mask(batch, o), "mae")
            bwd = masked_frame_loss(self.heads[o]["to_pivot"](d2), batch.features[p],
                                    _mask(batch, p), "mae")
            losses[f"{p}_to_{o}"], losses[f"{o}_to_{p}"] = fwd, bwd
            trans = trans + fwd + bwd
        weights = {k: 1.0 if k == "task" else self.cfg.translation_weight for k in losses}
        return MethodOutput(loss=losses["task"] + self.cfg.translation_weight * trans,
                            losses=losses, weights=weights)

    def predict(self, batch: Batch) -> Prediction:
        return self.task.predict(self.run(batch, backward=False)[0])
