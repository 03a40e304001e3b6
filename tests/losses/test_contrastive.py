"""SupCon / MVSC and Rank-N-Contrast against naive loop references, plus degenerate inputs."""

from __future__ import annotations

import math

import pytest
import torch

from robustmsa.losses.contrastive import (
    l2_normalize,
    multiview_supcon,
    rank_n_contrast,
    supcon_loss,
)


def naive_supcon(z, labels, tau, anchors, contrast):
    """Khosla et al. Eq. 2 with explicit loops over anchors, positives and the contrast set."""
    n = z.shape[0]
    total, count = 0.0, 0
    for a in range(n):
        if not anchors[a]:
            continue
        cset = [b for b in range(n) if contrast[b] and b != a]
        pos = [p for p in cset if labels[p] == labels[a]]
        if not pos:
            continue
        denom = sum(math.exp(float(z[a] @ z[b]) / tau) for b in cset)
        s = sum(math.log(math.exp(float(z[a] @ z[p]) / tau) / denom) for p in pos)
        total += -s / len(pos)
        count += 1
    return total / count if count else 0.0


def naive_mvsc(z, labels, tau, mode):
    v, n, _ = z.shape
    flat = [z[i, j] for i in range(v) for j in range(n)]
    lab = [int(labels[j]) for i in range(v) for j in range(n)]
    view = [i for i in range(v) for _ in range(n)]
    if mode == "all" or v == 1:
        anchors = [True] * (v * n)
        contrast = [True] * (v * n)
    else:
        anchors = [w != 0 for w in view]
        contrast = [w == 0 for w in view]
    return naive_supcon(torch.stack(flat), lab, tau, anchors, contrast)


def naive_rnc(f, y, tau, tol=0.0):
    """Official RnC loss (Zha et al.) written with explicit loops."""
    n = f.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            s_ij = -float((f[i] - f[j]).norm()) / tau
            d_ij = float((y[i] - y[j]).abs().sum())
            denom = sum(
                math.exp(-float((f[i] - f[k]).norm()) / tau)
                for k in range(n)
                if k != i and float((y[i] - y[k]).abs().sum()) >= d_ij - tol
            )
            total += -(s_ij - math.log(denom))
    return total / (n * (n - 1))


@pytest.mark.parametrize("mode", ["all", "teacher"])
@pytest.mark.parametrize("tau", [0.07, 0.5])
def test_mvsc_matches_loop_reference(mode, tau):
    g = torch.Generator().manual_seed(0)
    z = l2_normalize(torch.randn(4, 6, 5, generator=g, dtype=torch.float64))
    labels = torch.tensor([0, 1, 1, 2, 0, 3])  # class 2 and 3 are singletons
    got = multiview_supcon(z, labels, temperature=tau, anchor_mode=mode)
    assert got.item() == pytest.approx(naive_mvsc(z, labels, tau, mode), rel=1e-9)


def test_supcon_masks_match_reference():
    g = torch.Generator().manual_seed(1)
    z = l2_normalize(torch.randn(7, 3, generator=g, dtype=torch.float64))
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 0])
    anchors = torch.tensor([1, 0, 1, 1, 0, 1, 1], dtype=torch.bool)
    contrast = torch.tensor([1, 1, 0, 1, 1, 1, 0], dtype=torch.bool)
    got = supcon_loss(z, labels, temperature=0.2, anchors=anchors, contrast=contrast)
    ref = naive_supcon(z, labels.tolist(), 0.2, anchors.tolist(), contrast.tolist())
    assert got.item() == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("mode", ["all", "teacher"])
def test_mvsc_degenerate_inputs_are_finite(mode):
    # batch of one, one class, identical views
    z = l2_normalize(torch.randn(1, 4)).expand(3, 1, 4).clone().requires_grad_()
    out = multiview_supcon(z, torch.tensor([2]), anchor_mode=mode)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z.grad).all()
    # identical views of one class: every pair is a positive; the loss is log of the set size
    z2 = l2_normalize(torch.ones(3, 4, 2)).requires_grad_()
    out2 = multiview_supcon(z2, torch.zeros(4, dtype=torch.long), anchor_mode=mode)
    out2.backward()
    size = 11 if mode == "all" else 4
    assert out2.item() == pytest.approx(math.log(size), rel=1e-5)
    assert torch.isfinite(z2.grad).all()


def test_supcon_no_positive_gives_connected_zero():
    z = l2_normalize(torch.randn(3, 4)).requires_grad_()
    out = supcon_loss(z, torch.tensor([0, 1, 2]))  # every class a singleton, one view
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))
    # single view in teacher mode falls back to plain SupCon
    z1 = l2_normalize(torch.randn(1, 3, 4))
    assert torch.isfinite(multiview_supcon(z1, torch.tensor([0, 0, 1]), anchor_mode="teacher"))


def test_mvsc_rejects_unknown_anchor_mode():
    with pytest.raises(ValueError, match="anchor_mode"):
        multiview_supcon(torch.randn(2, 3, 4), torch.zeros(3, dtype=torch.long), anchor_mode="x")


@pytest.mark.parametrize("tol", [0.0, 1e-4])
def test_rnc_matches_loop_reference(tol):
    g = torch.Generator().manual_seed(0)
    f = torch.randn(8, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0.2, -1.0, 0.2, 3.0, 0.0, -1.0, 1.4, 0.2], dtype=torch.float64)
    got = rank_n_contrast(f, y, temperature=2.0, tie_tol=tol)
    assert got.item() == pytest.approx(naive_rnc(f, y, 2.0, tol), rel=1e-9)
    # multi-dimensional labels: L1 distance
    y2 = torch.randn(8, 2, generator=g, dtype=torch.float64)
    got2 = rank_n_contrast(f, y2, temperature=0.5)
    assert got2.item() == pytest.approx(naive_rnc(f, y2, 0.5), rel=1e-9)


def test_rnc_degenerate_inputs_are_finite():
    # batch of one -> zero, still differentiable
    f1 = torch.randn(1, 4, requires_grad=True)
    out = rank_n_contrast(f1, torch.tensor([0.5]))
    out.backward()
    assert out.item() == 0.0 and torch.isfinite(f1.grad).all()
    # two views of one sample that are identical (zero distance) and equal labels
    f = torch.randn(1, 4).repeat(2, 1).requires_grad_()
    out = rank_n_contrast(f, torch.tensor([1.0, 1.0]))
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(f.grad).all()
    # all labels equal: every k is in every denominator set
    g = torch.Generator().manual_seed(3)
    f = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(6, dtype=torch.float64)
    out = rank_n_contrast(f, y)
    assert out.item() == pytest.approx(naive_rnc(f.detach(), y, 2.0), rel=1e-9)
    out.backward()
    assert torch.isfinite(f.grad).all()


def test_rnc_pulls_same_label_views_together():
    # a configuration ordered by label has a lower loss than a shuffled one
    y = torch.arange(6, dtype=torch.float32)
    ordered = torch.stack([y, torch.zeros(6)], 1)
    shuffled = ordered[torch.tensor([3, 0, 5, 1, 4, 2])]
    assert rank_n_contrast(ordered, y) < rank_n_contrast(shuffled, y)
