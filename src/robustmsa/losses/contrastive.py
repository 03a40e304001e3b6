"""Contrastive losses (pure functions): supervised contrast over several views, Rank-N-Contrast.

References:
- Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020 (`supcon_loss`, Eq. 2, the
  "L_out" form: the mean over positives sits outside the log).
- MM-CKD's Multi-view Supervised Contrastive learning (MVSC; Sang et al., arXiv 2410.08692),
  reconstructed in the project spec ``other_methods.md`` §2.3 (`multiview_supcon`).
- Zha et al., "Rank-N-Contrast: Learning Continuous Representations for Regression",
  NeurIPS 2023, Eq. 2; official ``kaiwenzha/Rank-N-Contrast/loss.py`` (`rank_n_contrast`).

Degenerate inputs never give NaN: anchors without any positive are left out of the mean, and
a batch with no usable anchor gives a zero that is still connected to the graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

ANCHOR_MODES = ("all", "teacher")


def _zero(x: Tensor) -> Tensor:
    """A 0 that keeps ``x`` in the autograd graph (so ``backward`` always works)."""
    return x.sum() * 0.0


def supcon_loss(
    z: Tensor,
    labels: Tensor,
    *,
    temperature: float = 0.07,
    anchors: Tensor | None = None,
    contrast: Tensor | None = None,
) -> Tensor:
    """Supervised contrastive loss over one flat set of embeddings.

    For every anchor a, the contrast set is A(a) = {b in ``contrast``, b != a} and the
    positives P(a) = {p in A(a): labels[p] == labels[a]}:

        L = mean_{a: |P(a)| > 0} -1/|P(a)| sum_{p in P(a)} log softmax_{b in A(a)}(z_a.z_b/tau)_p

    Args:
        z: (N, D) embeddings, normally L2-normalised.
        labels: (N,) integer class labels.
        temperature: tau (SupCon default 0.07).
        anchors: (N,) bool, rows used as anchors (default: all).
        contrast: (N,) bool, rows in the contrast set (default: all).

    Returns:
        Scalar loss; 0 (graph-connected) when no anchor has a positive.
    """
    n = z.shape[0]
    dev = z.device
    anchors = torch.ones(n, dtype=torch.bool, device=dev) if anchors is None else anchors
    contrast = torch.ones(n, dtype=torch.bool, device=dev) if contrast is None else contrast
    logits = z @ z.t() / temperature  # (N, N)
    valid = contrast[None, :] & ~torch.eye(n, dtype=torch.bool, device=dev)  # (N, N) A(a)
    pos = valid & (labels[:, None] == labels[None, :])  # (N, N) P(a)
    # a finite fill (not -inf) keeps rows with an empty contrast set NaN-free in backward
    logits = logits.masked_fill(~valid, torch.finfo(logits.dtype).min)
    log_prob = logits.log_softmax(dim=1)  # (N, N)
    n_pos = pos.sum(1)  # (N,)
    use = anchors & (n_pos > 0)
    if not bool(use.any()):
        return _zero(z)
    mean_log_pos = torch.where(pos, log_prob, 0.0).sum(1) / n_pos.clamp_min(1)  # (N,)
    return -mean_log_pos[use].mean()


def multiview_supcon(
    z: Tensor, labels: Tensor, *, temperature: float = 0.07, anchor_mode: str = "all"
) -> Tensor:
    """MVSC: SupCon generalised to V model views of the same N samples (MM-CKD).

    The NV embeddings z[v, i] share the label of sample i, so the positives of an anchor are
    the same sample in the other views (cross-modal knowledge) and same-label samples in any
    view (cross-sample knowledge).

    Args:
        z: (V, N, D) embeddings, view 0 is the teacher; normally L2-normalised.
        labels: (N,) integer class labels.
        temperature: tau.
        anchor_mode: ``"all"`` — every one of the NV embeddings is an anchor contrasted with
            all others; ``"teacher"`` — only student views (v >= 1) are anchors and only the
            teacher view is their contrast set (V-1 contrasts of N x N).

    Returns:
        Scalar loss.
    """
    if anchor_mode not in ANCHOR_MODES:
        raise ValueError(f"anchor_mode must be one of {ANCHOR_MODES}; got {anchor_mode!r}")
    v, n, d = z.shape
    flat = z.reshape(v * n, d)  # (V*N, D), view-major
    lab = labels.repeat(v)  # (V*N,)
    if anchor_mode == "all":
        return supcon_loss(flat, lab, temperature=temperature)
    is_teacher = torch.zeros(v * n, dtype=torch.bool, device=z.device)
    is_teacher[:n] = True
    if v == 1:  # no student view: fall back to the teacher's own supervised contrast
        return supcon_loss(flat, lab, temperature=temperature)
    return supcon_loss(flat, lab, temperature=temperature, anchors=~is_teacher,
                       contrast=is_teacher)


def rank_n_contrast(
    features: Tensor, labels: Tensor, *, temperature: float = 2.0, tie_tol: float = 0.0
) -> Tensor:
    """Rank-N-Contrast loss, vectorised (no Python loop; O(N^2 (D + N)) memory).

    s_ij = -||f_i - f_j||_2, d_ij = ||y_i - y_j||_1 and

        L = 1/(N(N-1)) sum_i sum_{j != i} -log [exp(s_ij/tau) / sum_{k in S_ij} exp(s_ik/tau)],
        S_ij = {k != i : d_ik >= d_ij - tie_tol}

    Args:
        features: (N, D) embeddings; pass both views of each sample as separate rows.
        labels: (N,) or (N, L) continuous labels (L1 distance over the last axis).
        temperature: tau (official default 2).
        tie_tol: tolerance on label-distance ties (SDUMC's copy uses 1e-4; official 0).

    Returns:
        Scalar loss; 0 (graph-connected) for N < 2.
    """
    n = features.shape[0]
    if n < 2:
        return _zero(features)
    y = labels.reshape(n, -1).to(features.dtype)  # (N, L)
    diff = features[:, None, :] - features[None, :, :]  # (N, N, D)
    # clamp before sqrt: identical rows would otherwise give an infinite gradient
    dist = diff.pow(2).sum(-1).clamp_min(1e-12).sqrt()  # (N, N)
    logits = -dist / temperature
    ldist = (y[:, None, :] - y[None, :, :]).abs().sum(-1)  # (N, N)
    off = ~torch.eye(n, dtype=torch.bool, device=features.device)
    logits = logits[off].view(n, n - 1)  # (N, N-1) column k -> sample k (+1 past i)
    ldist = ldist[off].view(n, n - 1)
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    # S[i, j, k]: k is in the denominator set of the pair (i, j); always contains k = j
    s_mask = ldist[:, None, :] >= ldist[:, :, None] - tie_tol  # (N, N-1, N-1)
    expanded = logits[:, None, :].expand(n, n - 1, n - 1)
    denom = expanded.masked_fill(~s_mask, torch.finfo(logits.dtype).min).logsumexp(-1)
    return -(logits - denom).mean()


def l2_normalize(x: Tensor) -> Tensor:
    """Row-wise L2 normalisation (safe for zero rows). Shapes: (..., D) -> (..., D)."""
    return F.normalize(x, dim=-1, eps=1e-8)
