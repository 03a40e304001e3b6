"""Sequence-to-sequence translators between modalities.

- `RNNEncoder` / `AttentionDecoder`: MCTN's recurrent encoder (bidirectional, directions
  summed) and an attention decoder that emits a target sequence of a given length from the
  encoder states alone (no target frames are fed in, as the authors' Keras model).
- `TranslationCell`: TransModality's modality fusion cell: pivot -> other (forward) and
  -> pivot (backward) Transformer translation.
- `masked_softmax` / `key_padding`: attention helpers that stay finite for empty rows.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from robustmsa.nn.layers import sinusoidal_positions


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last axis restricted to ``mask``; a row with no valid entry attends
    uniformly to every position (its inputs are zeros anyway).

    Shapes: scores (..., S), mask broadcastable to it (bool) -> (..., S)."""
    mask = mask.expand_as(scores)
    empty = ~mask.any(-1, keepdim=True)
    return scores.masked_fill(~(mask | empty), float("-inf")).softmax(-1)


def key_padding(mask: Tensor) -> Tensor:
    """(B, T) valid frames -> the Transformer's key padding mask (True = ignore); rows with no
    valid frame attend everywhere instead of producing NaN."""
    return ~(mask | ~mask.any(1, keepdim=True))


class RNNEncoder(nn.Module):
    """Bidirectional LSTM/GRU over (B, T, D) whose two directions are summed -> (B, T, H)."""

    def __init__(self, in_dim: int, hidden: int, cell: str = "lstm") -> None:
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(in_dim, hidden, batch_first=True, bidirectional=True)
        self.hidden = hidden

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (B, T, 2H)
        return out[..., : self.hidden] + out[..., self.hidden :]


class AttentionDecoder(nn.Module):
    """Emit ``length`` states from encoder states: step t's query is a learned map of its
    sinusoidal position, its context the masked attention over the memory; a unidirectional
    RNN runs over the contexts (B, length, H)."""

    def __init__(self, hidden: int, cell: str = "lstm") -> None:
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.query = nn.Linear(hidden, hidden)
        self.rnn = rnn(hidden, hidden, batch_first=True)
        self.hidden = hidden

    def forward(self, memory: Tensor, memory_mask: Tensor, length: int) -> Tensor:
        """memory: (B, S, H), memory_mask: (B, S) -> (B, length, H)."""
        pe = sinusoidal_positions(length, self.hidden).to(memory)  # (L, H)
        q = self.query(pe)  # (L, H)
        scores = torch.einsum("lh,bsh->bls", q, memory) / math.sqrt(self.hidden)  # (B, L, S)
        ctx = masked_softmax(scores, memory_mask[:, None, :]) @ memory  # (B, L, H)
        out, _ = self.rnn(ctx)
        return out


class TranslationCell(nn.Module):
    """TransModality fusion cell for a pivot p and another modality o (all width d):

    e1 = Enc1(u_p);  d1 = Dec1(tgt = u_o, memory = e1)   (forward translation p -> o)
    e2 = Enc2(d1);   d2 = Dec2(tgt = u_p, memory = e2)   (backward translation -> p)

    Decoders take the target's own embedding as input with no causal mask (the third-party
    code's non-autoregressive re-encoding).
    """

    def __init__(self, d: int, heads: int, ffn: int, enc_layers: int, dec_layers: int,
                 dropout: float) -> None:
        super().__init__()

        def enc() -> nn.TransformerEncoder:
            layer = nn.TransformerEncoderLayer(d, heads, ffn, dropout, batch_first=True)
            return nn.TransformerEncoder(layer, enc_layers, enable_nested_tensor=False)

        def dec() -> nn.TransformerDecoder:
            layer = nn.TransformerDecoderLayer(d, heads, ffn, dropout, batch_first=True)
            return nn.TransformerDecoder(layer, dec_layers)

        self.enc1, self.dec1, self.enc2, self.dec2 = enc(), dec(), enc(), dec()

    def forward(self, u_p: Tensor, mask_p: Tensor, u_o: Tensor, mask_o: Tensor,
                backward: bool = True) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """u_p: (B, Tp, d), mask_p: (B, Tp), u_o: (B, To, d), mask_o: (B, To) ->
        e1 (B, Tp, d), d1 (B, To, d), e2 (B, To, d), d2 (B, Tp, d) (None unless
        ``backward``: only the backward translation loss needs it)."""
        kp, ko = key_padding(mask_p), key_padding(mask_o)
        e1 = self.enc1(u_p, src_key_padding_mask=kp)
        d1 = self.dec1(u_o, e1, tgt_key_padding_mask=ko, memory_key_padding_mask=kp)
        e2 = self.enc2(d1, src_key_padding_mask=ko)
        d2 = self.dec2(u_p, e2, tgt_key_padding_mask=kp, memory_key_padding_mask=ko) \
            if backward else None
        return e1, d1, e2, d2
