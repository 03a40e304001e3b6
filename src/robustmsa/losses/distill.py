"""Knowledge-distillation losses (pure functions). Teacher inputs are detached inside.

References:
- Hinton et al., "Distilling the Knowledge in a Neural Network", 2015 (`logit_kd`).
- Romero et al., FitNets, 2015 (`feature_kd`, MSE between representations).
- Li et al., CorrKD, CVPR 2024: SCD (`scd_loss`) and CPD (`cpd_loss`), as reconstructed in
  the project spec ``corrkd.md`` §5-§6.
- Zhao et al., "Decoupled Knowledge Distillation", CVPR 2022 (`decouple_response`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def logit_kd(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 4.0, *,
             regression: bool = False) -> Tensor:
    """Temperature-scaled KL(teacher || student) * T^2 (Hinton KD), batch mean.

    Shapes: (B, C), (B, C) -> scalar. Regression outputs (C = 1, or ``regression=True`` for
    K continuous targets) get the MSE to the teacher's outputs instead.
    """
    if regression or student_logits.shape[-1] == 1:
        return F.mse_loss(student_logits, teacher_logits.detach())
    t = temperature
    log_ps = F.log_softmax(student_logits / t, dim=-1)
    log_pt = F.log_softmax(teacher_logits.detach() / t, dim=-1)
    return F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True) * t * t


def feature_kd(student_feat: Tensor, teacher_feat: Tensor) -> Tensor:
    """Mean squared error between representations. Shapes: (B, H), (B, H) -> scalar."""
    return F.mse_loss(student_feat, teacher_feat.detach())


def scd_sq_distances(h_s: Tensor, h_t: Tensor, keep: Tensor | None = None,
                     normalize: bool = False) -> Tensor:
    """(B, B) squared distances D(i, j)^2 between ``h_s[i]`` and ``h_t[j]`` for SCD.

    ``keep`` (B, H) bool restricts row i's comparison to the dimensions ``keep[i]`` (for both
    sides: student i's available-modality blocks); ``normalize`` L2-normalises both vectors
    on those dimensions first (then D^2 = 2 - 2 cos, in [0, 4]).

    Shapes: (B, H), (B, H), (B, H) bool or None -> (B, B).
    """
    if keep is None:
        keep = torch.ones_like(h_s, dtype=torch.bool)
    k = keep.to(h_s.dtype)
    hs = h_s * k  # (B, H) student i on its own dims
    cross = hs @ h_t.t()  # (B, B) <hs_i|k_i, ht_j>
    ns = hs.pow(2).sum(1, keepdim=True)  # (B, 1) ||hs_i|k_i||^2
    nt = k @ h_t.pow(2).t()  # (B, B) ||ht_j|k_i||^2
    if normalize:
        den = (ns.clamp_min(1e-12) * nt.clamp_min(1e-12)).sqrt()
        return (2.0 - 2.0 * cross / den).clamp_min(0.0)
    return (ns - 2.0 * cross + nt).clamp_min(0.0)


def scd_loss(h_s: Tensor, h_t: Tensor, margin: float, keep: Tensor | None = None,
             normalize: bool = False) -> Tensor:
    """Sample-level contrastive distillation (CorrKD SCD), normalised by N(N-1).

    L = mean_i ||h_s_i - h_t_i||^2 + mean_{i != j} max(0, margin - ||h_s_i - h_t_j||)^2

    The positive is the same sample's teacher representation; negatives are the other
    samples' teacher representations, kept at least ``margin`` away. With one sample there
    is no negative and only the positive term remains. Optional (`scd_sq_distances`):
    ``keep`` compares each student sample on its own dimensions only (rows with no kept
    dimension are left out), ``normalize`` compares L2-normalised vectors.

    Shapes: (B, H), (B, H), (B, H) bool or None -> scalar.
    """
    ht = h_t.detach()
    if keep is None and not normalize:
        d = torch.cdist(h_s, ht)  # (B, B) Euclidean distances student_i -> teacher_j
        n = d.shape[0]
        pos = d.diagonal().pow(2).mean()
        if n < 2:
            return pos
        off = ~torch.eye(n, dtype=torch.bool, device=d.device)
        neg = F.relu(margin - d[off]).pow(2).mean()
        return pos + neg
    d2 = scd_sq_distances(h_s, ht, keep, normalize)  # (B, B)
    rows = torch.ones(d2.shape[0], dtype=torch.bool, device=d2.device) if keep is None \
        else keep.any(1)  # (B,) rows with something to compare
    n = int(rows.sum())
    if n == 0:
        return (h_s * 0).sum()
    pos = d2.diagonal()[rows].mean()
    if d2.shape[0] < 2:
        return pos
    off = ~torch.eye(d2.shape[0], dtype=torch.bool, device=d2.device) & rows[:, None]
    neg = F.relu(margin - d2[off].clamp_min(1e-12).sqrt()).pow(2).mean()
    return pos + neg


def class_prototypes(h: Tensor, y: Tensor, classes: Tensor) -> Tensor:
    """Mean representation of each class in ``classes`` within the batch.

    Shapes: h (B, H), y (B,) long, classes (K,) -> (K, H).
    """
    onehot = (y[:, None] == classes[None, :]).to(h.dtype)  # (B, K)
    return (onehot.t() @ h) / onehot.sum(0)[:, None].clamp_min(1.0)  # (K, H)


def _masked_cos(h: Tensor, p: Tensor, keep: Tensor) -> Tensor:
    """(B, K) cosine of h_i and p_k on the dimensions keep[i]. Shapes: (B,H), (K,H), (B,H)."""
    k = keep.to(h.dtype)
    hk = h * k  # (B, H)
    num = hk @ p.t()  # (B, K)
    den = hk.norm(dim=1, keepdim=True).clamp_min(1e-8) * (k @ p.pow(2).t()).sqrt().clamp_min(1e-8)
    return num / den


def cpd_loss(h_s: Tensor, h_t: Tensor, y: Tensor, keep: Tensor | None = None) -> Tensor:
    """Category-guided prototype distillation (CorrKD CPD).

    Prototypes are built per network from the ground-truth classes present in the batch;
    every sample's cosine similarity to every prototype is matched between student and
    teacher: L = 1/(N K_b) sum_i sum_k (cos(h_s_i, P_s_k) - cos(h_t_i, P_t_k))^2.
    ``keep`` (B, H) bool computes sample i's cosines (both networks) on the dimensions
    ``keep[i]`` only (its available-modality blocks); rows with none are left out.

    Shapes: (B, H), (B, H), (B,) long, (B, H) bool or None -> scalar.
    """
    classes = torch.unique(y)  # (K_b,)
    ht = h_t.detach()
    p_s = class_prototypes(h_s, y, classes)  # (K, H)
    p_t = class_prototypes(ht, y, classes)
    if keep is None:
        m_s = F.cosine_similarity(h_s[:, None, :], p_s[None, :, :], dim=-1, eps=1e-8)  # (B, K)
        m_t = F.cosine_similarity(ht[:, None, :], p_t[None, :, :], dim=-1, eps=1e-8)
        return (m_s - m_t).pow(2).mean()
    rows = keep.any(1)  # (B,)
    if not rows.any():
        return (h_s * 0).sum()
    diff = _masked_cos(h_s, p_s, keep) - _masked_cos(ht, p_t, keep)  # (B, K)
    return diff[rows].pow(2).mean()


def decouple_response(logits: Tensor, target: Tensor, temperature: float = 1.0):
    """DKD split of a softmax response into target-vs-rest and non-target parts.

    Returns:
        b: (B, 2) = [p_t, 1 - p_t];
        q: (B, C-1) distribution over the non-target classes (in class order, target removed),
           or None when C == 2 (it would be the constant 1).
    """
    z = logits / temperature
    p = z.softmax(-1)  # (B, C)
    c = z.shape[-1]
    pt = p.gather(1, target[:, None])  # (B, 1)
    b = torch.cat([pt, 1 - pt], dim=1)  # (B, 2)
    if c <= 2:
        return b, None
    keep = torch.ones_like(p, dtype=torch.bool).scatter_(1, target[:, None], False)  # (B, C)
    zq = z[keep].view(z.shape[0], c - 1)  # (B, C-1) logits without the target
    return b, zq.softmax(-1)
