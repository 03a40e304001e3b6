"""UMCA (Unified Modality Cross-Attention) blocks, the MIA residual autoencoder, `UMCANet`.

From SDUMC (Weng et al., "Enhancing Multimodal Sentiment Analysis for Missing Modality through
Self-Distillation and Unified Modality Cross-Attention", ICASSP 2025, arXiv 2410.15029),
official code ``WarmCongee/SDUMC`` (``FRA2UTT_new``, ``Cross_Attention``, ``ResidualAE``), as
specified in the project spec ``other_methods.md`` §4.3-4.4.

Deviation from the public code: every softmax over time is padding-masked (the code lets
padded frames take part), and a sequence with no valid frame pools to 0 instead of NaN.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robustmsa.nn.layers import MLP


def masked_softmax(logits: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax over the True entries of ``mask``; all-False slices give all zeros (no NaN).

    Shapes: logits (..., K), mask broadcastable to logits (bool) -> (..., K).
    """
    mask = mask.expand_as(logits)
    filled = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
    p = filled.softmax(dim)
    return torch.where(mask, p, 0.0)


class AttentionPooling(nn.Module):
    """UMCA stage 1: learnable-query attention pooling over time (``FRA2UTT_new``).

    e_t = tanh(H_t P + p) . c,  alpha = softmax_t(scale * e)  (valid frames only),
    u = Dropout(sum_t alpha_t H_t) with H = Dropout(input).

    Args:
        dim: feature width of the frames.
        dropout: dropout on the frames and the pooled vector (paper code: 0.5).
        scale: fixed logit scale (paper code: 0.3, no sqrt(d)).
    """

    def __init__(self, dim: int, dropout: float = 0.5, scale: float = 0.3) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.query = nn.Parameter(torch.empty(dim, 1))
        nn.init.xavier_normal_(self.query)
        self.drop = nn.Dropout(dropout)
        self.scale = scale

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        """h: (B, T, d), mask: (B, T) bool valid frames -> (B, d); no valid frame -> 0."""
        h = self.drop(h)
        e = (torch.tanh(self.proj(h)) @ self.query).squeeze(-1)  # (B, T, d) @ (d, 1) -> (B, T)
        alpha = masked_softmax(self.scale * e, mask, dim=1)  # (B, T)
        return self.drop((alpha[..., None] * h).sum(1))  # (B, d)


class MultiQueryCrossAttention(nn.Module):
    """UMCA stage 2: Q queries attend over one modality's frames (``Cross_Attention``).

    K = tanh(H W_K + b_K), Q' = Q W_Q + b_Q, A = softmax_t(scale * K Q'^T) (valid frames),
    O = Dropout(A^T H) with H = Dropout(input); the values are the un-projected frames.

    Args:
        dim: width of the frames and of the queries.
        dropout: dropout on the frames and the output (paper code: 0.5).
        scale: fixed logit scale (paper code: 0.3).
    """

    def __init__(self, dim: int, dropout: float = 0.5, scale: float = 0.3) -> None:
        super().__init__()
        self.key = nn.Linear(dim, dim)
        self.q = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)
        self.scale = scale

    def forward(self, h: Tensor, mask: Tensor, queries: Tensor) -> Tensor:
        """h: (B, T, d), mask: (B, T), queries: (B, Q, d) -> (B, Q, d)."""
        h = self.drop(h)
        k = torch.tanh(self.key(h))  # (B, T, d)
        q = self.q(queries)  # (B, Q, d)
        att = self.scale * torch.einsum("btd,bqd->btq", k, q)  # (B, T, Q)
        a = masked_softmax(att, mask[..., None], dim=1)  # softmax over T, per query
        return self.drop(torch.einsum("btq,btd->bqd", a, h))  # (B, Q, d)


class ResidualAE(nn.Module):
    """MIA (Modality Imagination Autoencoder): refine one modality from all of them.

    s = MLP(M*d -> d -> d)([x_1; ...; x_M]) (the transition), latent = Linear(d -> b)(s),
    x_hat = Linear(b -> d)(latent) + r, with r = x_target (``residual="input"``, the spec's
    recommendation) or r = s (``residual="transition"``, the code's ``… copy.py`` variant).

    Args:
        num_inputs: M, the number of modality vectors concatenated.
        dim: d. bottleneck: b. dropout: dropout inside the transition (paper code: 0.3).
        residual: "input" | "transition".
    """

    RESIDUALS = ("input", "transition")

    def __init__(self, num_inputs: int, dim: int, bottleneck: int, dropout: float = 0.3,
                 residual: str = "input") -> None:
        super().__init__()
        if residual not in self.RESIDUALS:
            raise ValueError(f"residual must be one of {self.RESIDUALS}; got {residual!r}")
        self.transition = MLP([num_inputs * dim, dim, dim], dropout=dropout)
        self.encoder = nn.Linear(dim, bottleneck)
        self.decoder = nn.Linear(bottleneck, dim)
        self.residual = residual

    def forward(self, inputs: list[Tensor], target: Tensor) -> Tensor:
        """inputs: M tensors (..., d) (the target among them), target: (..., d) -> (..., d)."""
        s = self.transition(torch.cat(inputs, dim=-1))  # (..., M*d) -> (..., d)
        out = self.decoder(self.encoder(s))
        return out + (target if self.residual == "input" else s)


def dense(dims: list[int], dropout: float) -> nn.Sequential:
    """The code's MLP: Linear-ReLU-Dropout after *every* linear layer."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


@dataclass
class FlowOutput:
    """logits (B, C); z (B, Dq); q_text (B, H) text query; c_text (B, Q, Dq) text slots."""

    logits: Tensor
    z: Tensor
    q_text: Tensor
    c_text: Tensor


class UMCANet(nn.Module):
    """SDUMC's network (§4.3) over any modality set containing ``"text"``.

    Frame projections -> stage-1 attention pooling + MLP (h_m) -> [MIA_1 on h_text] -> raw
    modality weights w (masked by ``present``) -> one query per non-empty modality subset
    (fused sum_m w_m h_m, or h_m) -> stage-2 cross-attention per modality + MLP (C_m) ->
    [MIA_2 on C_text] -> S = sum_m w_m C_m -> view weights beta -> z = sum_k beta_k S_k -> head.
    The MIA hooks run only when ``missing=True``.

    Args:
        dims: modality -> input width (canonical order; must contain ``"text"``).
        out_dim: task outputs.
        hidden_dim: general width (paper 256). query_dim: width of C_m and z (paper 128).
        dropout: MLP dropout (0.3). attn_dropout: attention-block dropout (0.5).
        attn_scale: attention logit scale (0.3).
        mia: build the MIA autoencoders. mia_residual: "input" or "transition".
    """

    def __init__(self, dims: dict[str, int], out_dim: int, *, hidden_dim: int = 256,
                 query_dim: int = 128, dropout: float = 0.3, attn_dropout: float = 0.5,
                 attn_scale: float = 0.3, mia: bool = True, mia_residual: str = "input") -> None:
        super().__init__()
        mods = tuple(dims)
        h, q, p = hidden_dim, query_dim, dropout
        self.modalities, self.ti = mods, mods.index("text")
        # every non-empty subset, singletons first (7 for 3 modalities)
        self.subsets = [c for k in range(1, len(mods) + 1) for c in itertools.combinations(mods, k)]
        self.text_slot = self.subsets.index(("text",))
        self.frame = nn.ModuleDict({m: nn.Linear(dims[m], h) for m in mods})
        self.pool = nn.ModuleDict(
            {m: AttentionPooling(h, attn_dropout, attn_scale) for m in mods})
        self.uni = nn.ModuleDict({m: dense([h, h, h], p) for m in mods})
        self.mod_weight = nn.Sequential(dense([len(mods) * h, h, h], p), nn.Linear(h, len(mods)))
        self.queries = nn.ModuleList([dense([h, h], p) for _ in self.subsets])
        self.cross = nn.ModuleDict(
            {m: MultiQueryCrossAttention(h, attn_dropout, attn_scale) for m in mods})
        self.out = nn.ModuleDict({m: dense([h, h, q], p) for m in mods})
        n_q = len(self.subsets)
        self.view_weight = nn.Sequential(dense([n_q * q, h, q], p), nn.Linear(q, n_q))
        self.head = nn.Linear(q, out_dim)
        # Start the raw (no-softmax) modality and view weights at 1 = a plain sum. With the
        # default init they start near 0 and the product of the two stacks is so small that,
        # on MOSI-sized data, the network does not train at all (task loss stuck at ln C).
        for layer in (self.mod_weight[-1], self.view_weight[-1]):
            nn.init.ones_(layer.bias)
        self.mia1 = ResidualAE(len(mods), h, h // 2, p, mia_residual) if mia else None
        self.mia2 = ResidualAE(len(mods), q, q // 2, p, mia_residual) if mia else None

    def forward(self, x: dict[str, Tensor], mask: dict[str, Tensor], present: Tensor,
                missing: bool) -> FlowOutput:
        """x: modality -> (B, T_m, D_m); mask: (B, T_m) valid frames; present: (B, M)."""
        mods = self.modalities
        frames = {m: self.frame[m](x[m]) for m in mods}  # (B, T_m, H)
        hs = [self.uni[m](self.pool[m](frames[m], mask[m])) for m in mods]  # M x (B, H)
        if missing and self.mia1 is not None:
            hs[self.ti] = self.mia1(hs, hs[self.ti])
        w = self.mod_weight(torch.cat(hs, -1)) * present.to(hs[0].dtype)  # (B, M), no softmax
        qs = []
        for sub, g in zip(self.subsets, self.queries, strict=True):
            idx = [mods.index(m) for m in sub]
            src = hs[idx[0]] if len(sub) == 1 else sum(w[:, i : i + 1] * hs[i] for i in idx)
            qs.append(g(src))
        queries = torch.stack(qs, 1)  # (B, Q, H)
        cs = [self.out[m](self.cross[m](frames[m], mask[m], queries)) for m in mods]  # (B, Q, Dq)
        if missing and self.mia2 is not None:
            cs[self.ti] = self.mia2(cs, cs[self.ti])
        s = (torch.stack(cs, 1) * w[:, :, None, None]).sum(1)  # (B, M, Q, Dq) -> (B, Q, Dq)
        beta = self.view_weight(s.flatten(1))  # (B, Q*Dq) -> (B, Q), no softmax
        z = (beta[..., None] * s).sum(1)  # (B, Dq)
        return FlowOutput(self.head(z), z, qs[self.text_slot], cs[self.ti])
