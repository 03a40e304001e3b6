"""A post-norm Transformer encoder written for small CPU models, with cheap dropout masks.

Computes exactly what ``torch.nn.TransformerEncoder(nn.TransformerEncoderLayer(d, h, f,
dropout, batch_first=True), L)`` computes in evaluation mode (ReLU, post-norm, eps 1e-5),
with the same parameter names (``layers.{i}.self_attn.in_proj_weight``, ``...linear1.weight``,
``...norm2.bias``), so its state dicts load into either, and the same initialisation order (the
same seed gives the same initial weights; every layer starts as a copy of the first, as in
torch). What differs is training-time cost:

- attention runs through ``F.scaled_dot_product_attention`` (a fused kernel, no (B, H, T, T)
  probability tensor kept for backward) whenever no dropout is applied to the attention
  weights (``attention_dropout = 0``);
- dropout masks are drawn from 16 random bits per element (`fast_dropout`) instead of
  ``bernoulli_`` — 4 to 5x cheaper on CPU; the drop probability is rounded to a multiple of
  2^-16 (0.1 -> 0.1000061) and the kept values are scaled by the exact 1 / (1 - p_used).

With ``attention_dropout > 0`` the attention weights are dropped as in torch's layer, through
an explicit softmax and `fast_dropout`.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_LEVELS = 1 << 16


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device,
              dtype: torch.dtype = torch.float32) -> Tensor:
    """Inverted-dropout multipliers: 0 with probability round(p * 2^16) / 2^16, else 1 / (1 - that).

    Uses torch's generator (seeded runs stay reproducible): 64 random bits give 4 elements.
    """
    n = 1
    for s in shape:
        n *= int(s)
    k = round(p * _LEVELS)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    r = words.view(torch.int16)[:n].view(shape)  # uniform on [-2^15, 2^15)
    return (r >= k - _LEVELS // 2).to(dtype).mul_(_LEVELS / (_LEVELS - k))


class _FastDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, p: float) -> Tensor:  # noqa: ANN001 - autograd signature
        mult = keep_mask(x.shape, p, x.device, x.dtype)
        ctx.save_for_backward(mult)
        return x * mult

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # noqa: ANN001
        (mult,) = ctx.saved_tensors
        return grad * mult, None


def fast_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout with the cheap masks of `keep_mask`; identity when not training."""
    if not training or p <= 0 or round(p * _LEVELS) == 0:
        return x
    if p >= 1:
        return torch.zeros_like(x)
    return _FastDropout.apply(x, p)


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameters and init."""

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)  # created before the reset, as in torch
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor, attend: Tensor, dropout: float) -> Tensor:
        """x: (B, T, d); attend: (B, 1, 1, T) bool, True = key may be attended -> (B, T, d)."""
        b, t, d = x.shape
        h = self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3d)
        # (B, T, d) -> (B, T, H, d/h) -> (B, H, T, d/h); split (not unbind) keeps backward a cat
        q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in qkv.split(d, dim=-1))
        if dropout > 0 and self.training:
            s = (q * (d // h) ** -0.5) @ k.transpose(-2, -1)  # (B, H, T, T)
            a = fast_dropout(s.masked_fill(~attend, float("-inf")).softmax(-1), dropout, True)
            o = a @ v
        else:
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)  # (B, H, T, d/h)
        return self.out_proj(o.transpose(1, 2).reshape(b, t, d))


class EncoderLayer(nn.Module):
    """Post-norm layer: x = LN(x + drop(SA(x))); x = LN(x + drop(W2 drop(relu(W1 x))))."""

    def __init__(self, d_model: int, num_heads: int, ffn_dim: int, dropout: float,
                 attention_dropout: float) -> None:
        super().__init__()
        self.self_attn = SelfAttention(d_model, num_heads)
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = dropout
        self.attention_dropout = attention_dropout

    def forward(self, x: Tensor, attend: Tensor) -> Tensor:
        p, on = self.dropout, self.training
        x = self.norm1(x + fast_dropout(self.self_attn(x, attend, self.attention_dropout), p, on))
        ff = self.linear2(fast_dropout(F.relu(self.linear1(x)), p, on))
        return self.norm2(x + fast_dropout(ff, p, on))


# Cost model of one chunk of R rows x L frames, in units of one frame's cost: a fixed cost per
# chunk (op dispatch, gathers) and a ~1/3 higher per-frame cost past 32 frames (the fused
# attention kernel's query block). Measured with 2 layers, d = 40, on a 2-core x86 CPU; it
# only decides how rows are grouped (speed), not what is computed.
_CHUNK_COST = 200.0
_BLOCK = 32
_LONG = 1.33


def _cost(rows: int, length: int) -> float:
    return _CHUNK_COST + rows * length * (_LONG if length > _BLOCK else 1.0)


def plan_chunks(counts: list[int], candidates: int = 16) -> list[list[int]]:
    """Group the rows with at least one valid frame for `Encoder`: rows sorted by valid count,
    cut into consecutive groups (each run at its longest row's count) minimising `_cost`.

    Cuts are searched among ``candidates`` evenly spaced positions (exact dynamic programme
    over them). Depends on the counts only, so a batch is always processed the same way.
    """
    rows = sorted((i for i, c in enumerate(counts) if c > 0), key=lambda i: counts[i])
    n = len(rows)
    if n == 0:
        return []
    step = max(1, n // candidates)
    points = [*range(0, n, step), n] if n % step else [*range(0, n + 1, step)]
    best = {0: (0.0, -1)}  # end point -> (cost of rows[:end], previous end point)
    for e in points[1:]:
        length = counts[rows[e - 1]]  # rows are sorted: the group's longest is its last
        best[e] = min((best[q][0] + _cost(e - q, length), q) for q in points if q < e)
    groups, e = [], n
    while e > 0:
        q = best[e][1]
        groups.append(rows[q:e])
        e = q
    return groups[::-1]


class Encoder(nn.Module):
    """``num_layers`` copies of one `EncoderLayer` (identical initial weights, as in torch),
    run on the valid frames only.

    Attention is masked to the valid frames and every other operation is per position, so
    each row's valid frames can be gathered to the front, rows grouped by their number of
    valid frames (`plan_chunks`) and each group run at its own length: the result at valid
    frames is the full masked computation's (up to float rounding), at a fraction of its cost
    when sequences are short or frames are missing.
    """

    def __init__(self, layer: EncoderLayer, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))

    def _run(self, x: Tensor, attend: Tensor) -> Tensor:
        a = attend[:, None, None, :]  # (B, 1, 1, T): broadcast over heads and queries
        for layer in self.layers:
            x = layer(x, a)
        return x

    def forward(self, x: Tensor, attend: Tensor) -> Tensor:
        """x: (B, T, d); attend: (B, T) bool, True = valid frame -> (B, T, d).

        Values at frames outside ``attend`` (and in rows without a valid frame) are
        unspecified but finite: 0 when the valid frames were gathered.
        """
        b, t, d = x.shape
        n = attend.sum(1)  # (B,) valid frames per row
        counts = n.tolist()
        plan = plan_chunks(counts)
        if len(plan) == 1 and len(plan[0]) == b and counts[plan[0][-1]] == t:
            return self._run(x, attend)  # one group at full length: nothing to gather
        # valid positions first, in time order: (B, T)
        order = torch.argsort((~attend).to(torch.uint8), dim=1, stable=True)
        flat_x = x.reshape(b * t, d)
        outs, where = [], []
        for rows in plan:
            r = torch.tensor(rows, device=x.device)
            length = max(counts[i] for i in rows)
            idx = r[:, None] * t + order[r, :length]  # (R, L) flat (row, frame) indices
            valid = torch.arange(length, device=x.device)[None, :] < n[r, None]  # (R, L)
            y = self._run(flat_x[idx], valid)  # (R, L, d)
            outs.append(y[valid])  # (V, d)
            where.append(idx[valid])
        if not outs:
            return torch.zeros_like(x)
        out = x.new_zeros(b * t, d).index_copy(0, torch.cat(where), torch.cat(outs))
        return out.view(b, t, d)
