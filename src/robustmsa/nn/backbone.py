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

from dataclasses import dataclass

import torch
from torch import Tensor, nn

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
        dropout: dropout in the Transformer and head (unknown; spec default 0.1).
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
        if not 0 <= self.dropout < 1:
            raise ValueError(f"model.dropout must be in [0, 1); got {self.dropout}")


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


class ModalityEncoder(nn.Module):
    """Conv1d(k=3) projection + positional encoding + Transformer encoder for one modality."""

    def __init__(self, in_dim: int, cfg: BackboneConfig) -> None:
        super().__init__()
        self.proj = nn.Conv1d(in_dim, cfg.d_model, kernel_size=3, padding=1, bias=False)
        self.drop = nn.Dropout(cfg.embed_dropout)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model, cfg.num_heads, cfg.ffn_dim, cfg.dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.num_layers, enable_nested_tensor=False)
        self.register_buffer("pe", sinusoidal_positions(cfg.max_len, cfg.d_model), persistent=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x: (B, T, D_m), mask: (B, T) valid frames -> (B, T, d)."""
        t = x.shape[1]
        if t > self.pe.shape[0]:
            self.pe = sinusoidal_positions(t, self.pe.shape[1]).to(self.pe.device)
        h = self.proj(x.transpose(1, 2)).transpose(1, 2)  # (B, D, T) -> (B, d, T) -> (B, T, d)
        h = self.drop(h + self.pe[:t])
        # Rows with no valid frame would make attention NaN: let them attend everywhere
        # (their pooled output is zeroed by the mask anyway).
        empty = ~mask.any(1, keepdim=True)  # (B, 1)
        pad = ~(mask | empty)  # (B, T) True = ignore
        return self.encoder(h, src_key_padding_mask=pad)


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
