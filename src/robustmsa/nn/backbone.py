"""The shared backbone of CorrKD and the KD baselines (teacher and student share it).

Per modality m: Conv1d(d_m -> d, k=3, pad=1) over time + sinusoidal positional encoding ->
Transformer encoder (padding-masked). The encoded streams are averaged over their valid time
steps and concatenated along features into the joint representation H in R^{M*d} (the spec's
default "feature-axis concatenation, then global average"; per-modality averaging makes it
well defined for unaligned data with different T_m). An MLP head maps H to task outputs.

**Missing input** (``BackboneConfig.missing_input``, `encoder_mask`): missing frames and
modalities are always exactly zero at the raw-feature level (`robustmsa.missing.apply_missing`).
What the encoders' attention and pooling see differs:

- ``"zeros"`` (default; the papers' protocol, e.g. CorrKD/HRLF "zero vectors at the missing
  positions"): every frame within the sample's true length is seen, dropped frames and absent
  modalities included, as the zero vectors they are. The network is not told what is missing.
  A modality with no frame at all (a naturally absent stream, length 0) is seen as one zero
  frame, exactly like a dropped modality of a length-1 clip.
- ``"mask"``: dropped frames and absent modalities are also removed from self-attention and
  pooling (an absent modality pools to the zero vector), i.e. the ``frame_mask`` / ``present``
  flags are an oracle missingness indicator.

In both conventions *padding* (frames beyond a sample's true length) is never seen: it is an
artefact of batching, and a prediction must not depend on how much of it a batch carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustmsa.nn.encoder import Encoder, EncoderLayer
from robustmsa.nn.layers import MLP, masked_mean, sinusoidal_positions
from robustmsa.types import MODALITIES, Batch

MISSING_INPUTS = ("zeros", "mask")


def encoder_mask(batch: Batch, modality: str, missing_input: str) -> Tensor:
    """(B, T_m) bool: the frames of ``modality`` an encoder attends to and pools over.

    ``"mask"``: valid, kept frames of present modalities (``frame_mask & present``).
    ``"zeros"``: every frame within the true length (at least one frame), so dropped frames
    and absent modalities are seen as zero vectors; padding is never seen.
    """
    j = batch.modalities.index(modality)
    if missing_input == "mask":
        return batch.frame_mask[modality] & batch.present[:, j : j + 1]
    x = batch.features[modality]
    t = torch.arange(x.shape[1], device=x.device)  # (T,)
    return t[None, :] < batch.lengths[modality].to(x.device).clamp_min(1)[:, None]  # (B, T)


@dataclass
class BackboneConfig:
    """Hyper-parameters of `MultimodalNet` (CorrKD spec §3.1 / §13).

    Attributes:
        d_model: embedding width d (paper: 40 on all datasets).
        num_heads: attention heads (HRLF: MOSI 10, MOSEI 8, IEMOCAP 10); must divide d_model.
        num_layers: Transformer layers per modality (unknown in the paper; spec: 2-4).
        ffn_dim: feed-forward width inside the Transformer (unknown; default 2*d).
        dropout: dropout in the Transformer (after attention, inside and after the
            feed-forward block) and in the head (unknown; spec default 0.1).
        attention_dropout: dropout on the attention weights (unknown in the paper). The
            default 0 lets attention run as one fused kernel; torch's
            ``nn.TransformerEncoderLayer``, which this backbone first used, drops them at
            ``dropout`` (``model.attention_dropout=0.1`` restores that). Regularisation only: evaluation
            is unaffected, and a teacher may differ from its student here.
        embed_dropout: dropout on the projected input sequence.
        max_len: longest sequence the positional table covers (grown on demand).
        missing_input: what attention and pooling see of missing frames / modalities: "zeros"
            (the papers' protocol: the zero vectors themselves) or "mask" (removed, an oracle
            missingness indicator); see the module docstring. Not an architecture field: the
            same weights run under either (a frozen teacher may be used with either).
    """

    d_model: int = 40
    num_heads: int = 10
    num_layers: int = 2
    ffn_dim: int = 80
    dropout: float = 0.1
    attention_dropout: float = 0.0
    embed_dropout: float = 0.0
    max_len: int = 512
    missing_input: str = "zeros"

    def __post_init__(self) -> None:
        if self.missing_input not in MISSING_INPUTS:
            raise ValueError(f"model.missing_input must be one of {MISSING_INPUTS}; "
                             f"got {self.missing_input!r}")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"model.num_heads={self.num_heads} must divide model.d_model={self.d_model}"
            )
        for name in ("dropout", "attention_dropout", "embed_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"model.{name} must be in [0, 1); got {getattr(self, name)}")


@dataclass
class NetOutput:
    """Outputs of `MultimodalNet`.

    Attributes:
        joint: (B, M*d) joint representation H.
        unimodal: modality -> (B, d) pooled per-modality representation.
        sequences: modality -> (B, T_m, d) encoded sequences.
        logits: (B, C) task outputs (C = 1 for regression).
    """

    joint: Tensor
    unimodal: dict[str, Tensor]
    sequences: dict[str, Tensor]
    logits: Tensor


class _Taps3(torch.autograd.Function):
    """(B, T, 3, d) per-tap projections -> (B, T, d): out[t] = y[t-1, 0] + y[t, 1] + y[t+1, 2]."""

    @staticmethod
    def forward(ctx, y: Tensor) -> Tensor:  # noqa: ANN001 - autograd signature
        out = y[:, :, 1].clone()
        out[:, 1:] += y[:, :-1, 0]
        out[:, :-1] += y[:, 1:, 2]
        return out

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:  # noqa: ANN001
        gy = g.new_empty(g.shape[0], g.shape[1], 3, g.shape[2])
        gy[:, :, 1] = g
        gy[:, :-1, 0] = g[:, 1:]
        gy[:, -1, 0] = 0
        gy[:, 1:, 2] = g[:, :-1]
        gy[:, 0, 2] = 0
        return gy


def conv3_time(x: Tensor, weight: Tensor) -> Tensor:
    """``Conv1d(kernel_size=3, padding=1, bias=False)`` over time on a (B, T, D) input.

    One (B*T, D) x (D, 3d) matmul for the three taps, then shifted sums: no transposed copy
    of the input, and no gradient for it when it needs none.

    Shapes: x (B, T, D), weight (d, D, 3) -> (B, T, d).
    """
    b, t, _ = x.shape
    d = weight.shape[0]
    y = F.linear(x, weight.permute(2, 0, 1).reshape(3 * d, -1))  # (B, T, 3d): taps t-1, t, t+1
    return _Taps3.apply(y.view(b, t, 3, d))


@dataclass
class _Reuse:
    inputs: dict[int, Tensor]  # id -> the registered input tensor (kept alive: ids stay unique)
    outputs: dict[tuple[int, int], tuple[nn.Module, list[tuple[Tensor, Tensor]]]]


_REUSE: ContextVar[_Reuse | None] = ContextVar("robustmsa_reuse_encodings", default=None)


@contextmanager
def reuse_encodings(inputs: Iterable[Tensor]) -> Iterator[None]:
    """Let evaluation-mode `ModalityEncoder` calls on one of ``inputs`` (the same tensor
    object) with an equal mask reuse the first call's result within this block.

    A robustness sweep encodes each modality of a batch under many conditions, and most
    leave a given modality untouched (every subset that keeps it, frame drop at rate 0):
    `robustmsa.missing.apply_missing` then passes that modality's tensor through unchanged,
    and it is encoded once. The caller guarantees that ``inputs`` are not modified inside the
    block. Nested blocks share the outer block's store.
    """
    outer = _REUSE.get()
    state = outer or _Reuse({}, {})
    for x in inputs:
        state.inputs[id(x)] = x
    token = _REUSE.set(state)
    try:
        yield
    finally:
        _REUSE.reset(token)


class ModalityEncoder(nn.Module):
    """Conv1d(k=3) projection + positional encoding + Transformer encoder for one modality.

    The encoder is `robustmsa.nn.encoder.Encoder`: in evaluation it computes what torch's
    ``nn.TransformerEncoder`` computes, with the same parameter names (old checkpoints load).
    """

    def __init__(self, in_dim: int, cfg: BackboneConfig) -> None:
        super().__init__()
        self.proj = nn.Conv1d(in_dim, cfg.d_model, kernel_size=3, padding=1, bias=False)
        self.drop = nn.Dropout(cfg.embed_dropout)
        layer = EncoderLayer(cfg.d_model, cfg.num_heads, cfg.ffn_dim, cfg.dropout,
                             cfg.attention_dropout)
        self.encoder = Encoder(layer, cfg.num_layers)
        self.register_buffer("pe", sinusoidal_positions(cfg.max_len, cfg.d_model), persistent=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x: (B, T, D_m), mask: (B, T) valid frames -> (B, T, d) (finite outside the mask).

        Inside `reuse_encodings` (evaluation, no grad), an input registered there and an equal
        mask seen before return the earlier result instead of recomputing it.
        """
        reuse = _REUSE.get()
        if reuse is None or self.training or torch.is_grad_enabled() or id(x) not in reuse.inputs:
            return self._encode(x, mask)
        seen = reuse.outputs.setdefault((id(self), id(x)), (self, []))[1]
        for m, out in seen:
            if torch.equal(m, mask):
                return out
        out = self._encode(x, mask)
        seen.append((mask, out))
        return out

    def _encode(self, x: Tensor, mask: Tensor) -> Tensor:
        t = x.shape[1]
        if t > self.pe.shape[0]:
            self.pe = sinusoidal_positions(t, self.pe.shape[1]).to(self.pe.device)
        if not self.training and not torch.is_grad_enabled():
            blank = ~(x != 0).flatten(1).any(1)  # (B,) rows whose input is all zeros
            if int(blank.sum()) > 1:
                return self._encode_blank_once(x, mask, blank)
        h = self.drop(conv3_time(x, self.proj.weight) + self.pe[:t])  # (B, T, d)
        return self.encoder(h, mask)  # frames outside the mask (and empty rows) come out as 0

    def _encode_blank_once(self, x: Tensor, mask: Tensor, blank: Tensor) -> Tensor:
        """Evaluation: rows with an all-zero input (an absent modality seen as zero vectors)
        depend only on their mask, so each distinct mask is encoded once."""
        t = x.shape[1]
        out = torch.zeros(x.shape[0], t, self.pe.shape[1], dtype=self.pe.dtype, device=x.device)
        rest = (~blank).nonzero(as_tuple=True)[0]
        if rest.numel():
            h = conv3_time(x[rest], self.proj.weight) + self.pe[:t]
            out[rest] = self.encoder(h, mask[rest])
        rows = blank.nonzero(as_tuple=True)[0]
        uniq, inverse = torch.unique(mask[rows], dim=0, return_inverse=True)  # (U, T)
        h = self.pe[:t].expand(uniq.shape[0], t, -1)  # conv of zeros is 0: positions only
        out[rows] = self.encoder(h.contiguous(), uniq)[inverse]
        return out


class MultimodalNet(nn.Module):
    """Per-modality encoders in a ModuleDict, pooled-and-concatenated fusion, MLP head.

    Args:
        dims: modality -> input feature width (from `DatasetInfo.dims`).
        out_dim: number of task outputs (classes, or 1 for regression).
        cfg: architecture hyper-parameters.
    """

    def __init__(self, dims: dict[str, int], out_dim: int, cfg: BackboneConfig) -> None:
        super().__init__()
        self.modalities = tuple(m for m in MODALITIES if m in dims)
        self.encoders = nn.ModuleDict({m: ModalityEncoder(dims[m], cfg) for m in self.modalities})
        self.joint_dim = cfg.d_model * len(self.modalities)
        self.head = MLP([self.joint_dim, self.joint_dim, out_dim], dropout=cfg.dropout)
        self.missing_input = cfg.missing_input

    def encode(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """Joint representation (B, M*d), pooled unimodal (B, d) and sequences (B, T, d)."""
        uni, seqs = {}, {}
        for m in self.modalities:
            mask = encoder_mask(batch, m, self.missing_input)  # (B, T)
            seqs[m] = self.encoders[m](batch.features[m], mask)
            uni[m] = masked_mean(seqs[m], mask)
        joint = torch.cat([uni[m] for m in self.modalities], dim=-1)  # (B, M*d)
        return joint, uni, seqs

    def forward(self, batch: Batch) -> NetOutput:
        joint, uni, seqs = self.encode(batch)
        return NetOutput(joint=joint, unimodal=uni, sequences=seqs, logits=self.head(joint))
