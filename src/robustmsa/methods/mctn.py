"""``mctn``: Multimodal Cyclic Translation Network.

Hai Pham, Paul Pu Liang, Thomas Manzini, Louis-Philippe Morency, Barnabás Póczos. "Found in
Translation: Learning Robust Joint Representations by Cyclic Translations Between
Modalities." AAAI 2019 (arXiv:1812.07809). Mechanism learned from the authors' code
``hainow/MCTN`` and the MMSA / MultiBench ports via the spec ``field_baselines.md`` §1; our
own implementation.

Hierarchical cyclic translation from a source modality s (text) to the targets t1 (vision)
and t2 (audio): encoder E1 (bidirectional RNN, directions summed) encodes s; decoder D1
translates it into t1; the *same* E1 / D1 translate the decoded t1 back into s (cycle); a
second encoder E2 reads E1's state sequence (the joint representation) and D2 translates it
into t2 (no cycle at level 2); a recurrent regressor with attention pooling over time reads
E2's states:

    L = 0.1 MSE(D1(E1(s)), t1) + 0.1 MSE(D1(E1(D1(E1(s)))), s) + 0.1 MSE(D2(E2(E1(s))), t2)
        + 1.0 task(f(E2(E1(s))), y) + 0.01 ||W_out||^2

(authors' weights; MSEs over each target's valid frames and its own feature width).
At inference only E1 -> E2 -> regressor run, on the source alone: the targets are never
used, so a missing target modality changes nothing.

**Missing source** (our decision, the paper has no mechanism): the source is fed as it is
given, i.e. as a zero sequence, and the method predicts the same output for every such sample
of one length (under ``missing_input="mask"`` the pooling falls back to all positions: one
output for all). Its a / v / av columns therefore
measure a constant prediction, by design; CorrKD's MCTN numbers for those subsets imply an
undisclosed adaptation that is not reproduced. ``order`` chooses another source if wanted.
A training split where no sample has the source is refused (``train_requires`` = the source:
a constant is all it could learn), e.g. ICT-MMMO's text-less train split with the default
order; ``method_config.order=av`` (audio -> vision) trains there and on POM.

Training missingness: none (``train_missing = None``; the paper trains on paired complete
data); ``train.missing`` may add one, applied to the encoder input only (targets stay whole).
Missing-input convention: the recurrent encoder always reads the zero-filled source (it has
no mask); ``model.missing_input`` decides the attention pooling over the source steps
(`robustmsa.nn.backbone.encoder_mask`: ``zeros`` = every step within the true length, the
default; ``mask`` = the kept steps of a present source only).

Deviations from the paper / code:
- Modality-specific input / output linear layers around the shared recurrent E1 / D1 core
  (the code zero-pads every modality to the widest feature dimension instead).
- D1 / D2 are attention decoders fed only the encoder states and the step position (no
  previous-output feedback; the Keras model is free-running as well; MMSA feeds targets).
- Hidden width ``hidden`` = 32 (code); LSTM cells (code; ``cell="gru"`` = MultiBench).
- The task loss is the project's (CE for classes, L1 for regression, as MMSA's L1).
- Early stopping and selection on the validation F1 (code: validation loss).
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
from robustmsa.nn.seq2seq import AttentionDecoder, RNNEncoder, masked_softmax
from robustmsa.tasks import Task
from robustmsa.types import SHORT_NAMES, Batch, MethodOutput, Prediction

TERMS = ("translation", "cycle", "translation2", "task", "l2")


@dataclass
class MCTNConfig:
    """MCTN hyper-parameters (authors' code values unless noted).

    Attributes:
        order: letters source, first target, second target (paper figure: ``"tva"``; the
            authors' trimodal script: ``"tav"``); two letters = no level 2.
        hidden: width of every recurrent layer (code 32).
        cell: "lstm" (code, MMSA) or "gru" (MultiBench).
        translation_weight, cycle_weight, translation2_weight, task_weight: loss weights
            (code 0.1 / 0.1 / 0.1 / 1.0).
        l2_weight: L2 penalty on the regressor's output layer (code 0.01).
    """

    order: str = "tva"
    hidden: int = 32
    cell: str = "lstm"
    translation_weight: float = 0.1
    cycle_weight: float = 0.1
    translation2_weight: float = 0.1
    task_weight: float = 1.0
    l2_weight: float = 0.01

    def __post_init__(self) -> None:
        if len(self.order) not in (2, 3) or len(set(self.order)) != len(self.order) \
                or any(c not in SHORT_NAMES for c in self.order):
            raise ValueError(f"order must be 2 or 3 distinct letters of t/a/v; got {self.order!r}")
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru'; got {self.cell!r}")
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1; got {self.hidden}")


def _mask(batch: Batch, m: str, missing_input: str = "mask") -> Tensor:
    """(B, T) frames of ``m`` that are seen (`encoder_mask`); "mask" = the real, kept frames
    (also the frames a translation target is scored on)."""
    return encoder_mask(batch, m, missing_input)


@register_method("mctn")
class MCTN(Method):
    Config = MCTNConfig
    distill_terms = ("translation", "cycle", "translation2")
    teacher_mode = "none"
    train_missing = None

    def __init__(self, cfg: MCTNConfig, info: DatasetInfo, task: Task, model: BackboneConfig
                 ) -> None:
        super().__init__(cfg, info, task, model)
        self.order = tuple(SHORT_NAMES[c] for c in cfg.order)
        missing = [m for m in self.order if m not in info.dims]
        if missing:
            raise ValueError(f"order {cfg.order!r} names {missing} but the data has "
                             f"{list(info.modalities)}")
        h, dims, src, t1 = cfg.hidden, info.dims, self.order[0], self.order[1]
        self.train_requires = (src,)
        self.train_requires_why = ("the source is its only input; choose another with "
                                   "method_config.order, e.g. order=av")
        self.student = nn.ModuleDict({  # what inference needs: E1, E2, regressor
            "input": nn.Linear(dims[src], h),
            "enc1": RNNEncoder(h, h, cfg.cell),
            **({"enc2": RNNEncoder(h, h, cfg.cell)} if len(self.order) == 3 else {}),
            "reg_rnn": {"lstm": nn.LSTM, "gru": nn.GRU}[cfg.cell](h, h, batch_first=True),
            "reg_score": nn.Linear(h, 1),
            "reg_out": nn.Linear(h, task.num_outputs),
        })
        parts: dict[str, nn.Module] = {  # training only: decoders and target-side layers
            "input_t1": nn.Linear(dims[t1], h),
            "dec1": AttentionDecoder(h, cfg.cell),
            "out_t1": nn.Linear(h, dims[t1]),
            "out_src": nn.Linear(h, dims[src]),
        }
        if len(self.order) == 3:
            parts |= {"dec2": AttentionDecoder(h, cfg.cell),
                      "out_t2": nn.Linear(h, dims[self.order[2]])}
        self.translators = nn.ModuleDict(parts)

    def encode(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Source -> (E1 states (B, Ts, H), E2 states (B, Ts, H), source mask (B, Ts))."""
        src = self.order[0]
        e1 = self.student["enc1"](self.student["input"](batch.features[src]))
        e2 = self.student["enc2"](e1) if len(self.order) == 3 else e1
        return e1, e2, _mask(batch, src, self.model_cfg.missing_input)

    def regress(self, e2: Tensor, mask: Tensor) -> Tensor:
        """Recurrent layer + attention pooling over the (valid) source steps -> logits."""
        r, _ = self.student["reg_rnn"](e2)  # (B, T, H)
        score = torch.tanh(self.student["reg_score"](r)).squeeze(-1)  # (B, T)
        alpha = masked_softmax(score, mask)  # (B, T)
        return self.student["reg_out"]((alpha[..., None] * r).sum(1))

    def forward(self, batch: Batch) -> MethodOutput:
        masked = apply_missing(batch, batch.train_mask)
        src, t1 = self.order[0], self.order[1]
        tr = self.translators
        e1, e2, m_src = self.encode(masked)
        t1_len = batch.features[t1].shape[1]
        t1_hat = tr["out_t1"](tr["dec1"](e1, m_src, t1_len))  # (B, T_t1, D_t1)
        t1_dec_mask = torch.ones(t1_hat.shape[:2], dtype=torch.bool, device=t1_hat.device)
        e1_cyc = self.student["enc1"](tr["input_t1"](t1_hat))  # same E1, decoded input
        s_hat = tr["out_src"](tr["dec1"](e1_cyc, t1_dec_mask, batch.features[src].shape[1]))
        losses = {
            "translation": masked_frame_loss(t1_hat, batch.features[t1], _mask(batch, t1)),
            "cycle": masked_frame_loss(s_hat, batch.features[src], _mask(batch, src)),
        }
        if len(self.order) == 3:
            t2 = self.order[2]
            t2_hat = tr["out_t2"](tr["dec2"](e2, m_src, batch.features[t2].shape[1]))
            losses["translation2"] = masked_frame_loss(t2_hat, batch.features[t2],
                                                       _mask(batch, t2))
        else:
            losses["translation2"] = e1.new_zeros(())
        losses["task"] = self.task.loss(self.regress(e2, m_src), batch.labels)
        losses["l2"] = self.student["reg_out"].weight.pow(2).sum()
        c = self.cfg
        w = dict(zip(TERMS, (c.translation_weight, c.cycle_weight, c.translation2_weight,
                             c.task_weight, c.l2_weight), strict=True))
        return MethodOutput(loss=sum(w[k] * losses[k] for k in TERMS), losses=losses, weights=w)

    def predict(self, batch: Batch) -> Prediction:
        _, e2, m_src = self.encode(batch)
        return self.task.predict(self.regress(e2, m_src))
