"""KD losses vs naive loop references, and on degenerate input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from robustmsa.losses.distill import (
    class_prototypes,
    cpd_loss,
    decouple_response,
    feature_kd,
    logit_kd,
    scd_loss,
)
from robustmsa.losses.mutual_info import StatisticsNetwork, derangement, jsd_mi, mi_jsd_estimate


def naive_scd(hs, ht, eta):
    n = hs.shape[0]
    tot, cnt = 0.0, 0
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            pos = float(torch.linalg.norm(hs[i] - ht[i])) ** 2
            neg = max(0.0, eta - float(torch.linalg.norm(hs[i] - ht[j]))) ** 2
            tot += pos + neg
            cnt += 1
    return tot / cnt


def naive_cpd(hs, ht, y):
    classes = sorted(set(y.tolist()))
    def protos(h):
        return {k: torch.stack([h[i] for i in range(len(y)) if y[i] == k]).mean(0) for k in classes}
    ps, pt = protos(hs), protos(ht)
    tot = 0.0
    for i in range(len(y)):
        for k in classes:
            cs = float(hs[i] @ ps[k] / (hs[i].norm() * ps[k].norm()))
            ct = float(ht[i] @ pt[k] / (ht[i].norm() * pt[k].norm()))
            tot += (cs - ct) ** 2
    return tot / (len(y) * len(classes))


@pytest.mark.parametrize("n,eta", [(2, 0.5), (5, 1.0), (9, 3.0)])
def test_scd_matches_naive(n, eta):
    g = torch.Generator().manual_seed(n)
    hs, ht = torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randn(n, 6, generator=g, dtype=torch.float64)
    assert math.isclose(float(scd_loss(hs, ht, eta)), naive_scd(hs, ht, eta), rel_tol=1e-9)


def test_scd_degenerate():
    h = torch.randn(4, 3)
    far = h * 100  # teacher points far apart: identical pairs, every negative beyond margin
    assert float(scd_loss(far, far, margin=0.1)) == pytest.approx(0.0, abs=1e-12)
    one = scd_loss(torch.randn(1, 3), torch.randn(1, 3), 1.0)
    assert torch.isfinite(one) and one > 0  # batch of one: positive term only
    hs = torch.randn(3, 4, requires_grad=True)
    ht = torch.randn(3, 4, requires_grad=True)
    scd_loss(hs, ht, 1.0).backward()
    assert ht.grad is None and torch.isfinite(hs.grad).all()


@pytest.mark.parametrize("classes", [[0, 1, 0, 1, 1], [0, 1, 2, 2, 0, 1, 1], [3, 3, 0]])
def test_cpd_matches_naive(classes):
    y = torch.tensor(classes)
    g = torch.Generator().manual_seed(len(classes))
    hs, ht = torch.randn(len(y), 5, generator=g, dtype=torch.float64), torch.randn(len(y), 5, generator=g, dtype=torch.float64)
    assert math.isclose(float(cpd_loss(hs, ht, y)), naive_cpd(hs, ht, y), rel_tol=1e-9)


def test_cpd_degenerate():
    h = torch.randn(6, 4)
    assert float(cpd_loss(h, h.clone(), torch.tensor([0, 1, 0, 1, 2, 2]))) == pytest.approx(0.0, abs=1e-14)
    one_class = cpd_loss(torch.randn(5, 4), torch.randn(5, 4), torch.zeros(5, dtype=torch.long))
    assert torch.isfinite(one_class)
    b1 = cpd_loss(torch.randn(1, 4), torch.randn(1, 4), torch.tensor([1]))
    assert float(b1) == pytest.approx(0.0, abs=1e-12)  # a sample is its own prototype: cos = 1
    zero = cpd_loss(torch.zeros(3, 4), torch.zeros(3, 4), torch.tensor([0, 1, 1]))
    assert torch.isfinite(zero)


def test_class_prototypes():
    h = torch.tensor([[1.0, 0], [3, 0], [0, 2]])
    p = class_prototypes(h, torch.tensor([0, 0, 1]), torch.tensor([0, 1]))
    assert torch.allclose(p, torch.tensor([[2.0, 0], [0, 2]]))


def test_decouple_response_matches_definition():
    z = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=torch.float64)
    y = torch.tensor([1, 2])
    b, q = decouple_response(z, y)
    p = z.softmax(-1)
    assert torch.allclose(b[:, 0], p[torch.arange(2), y])
    assert torch.allclose(b.sum(1), torch.ones(2, dtype=torch.float64))
    ref0 = torch.stack([p[0, 0], p[0, 2]]) / (p[0, 0] + p[0, 2])
    ref1 = torch.stack([p[1, 0], p[1, 1]]) / (p[1, 0] + p[1, 1])
    assert torch.allclose(q, torch.stack([ref0, ref1]))
    _, q2 = decouple_response(torch.randn(4, 2), torch.tensor([0, 1, 1, 0]))
    assert q2 is None  # two classes: the non-target part is the constant 1


def test_logit_and_feature_kd():
    z = torch.randn(4, 3, dtype=torch.float64)
    assert float(logit_kd(z, z.clone(), 4.0)) == pytest.approx(0.0, abs=1e-12)
    zs, zt = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    t = 2.0
    ref = sum(float((F.softmax(zt[i] / t, -1) * (F.log_softmax(zt[i] / t, -1) - F.log_softmax(zs[i] / t, -1))).sum())
              for i in range(4)) / 4 * t * t
    assert float(logit_kd(zs, zt, t)) == pytest.approx(ref, rel=1e-9)
    assert float(feature_kd(zs, zt)) == pytest.approx(float(((zs - zt) ** 2).mean()))


def test_jsd_mi_reference_and_derangement():
    tj, tm = torch.randn(7, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    ref = sum(-math.log1p(math.exp(-float(v))) for v in tj) / 7 - sum(math.log1p(math.exp(float(v))) for v in tm) / 7
    assert float(jsd_mi(tj, tm)) == pytest.approx(ref, rel=1e-9)
    g = torch.Generator().manual_seed(0)
    for n in range(2, 12):
        p = derangement(n, generator=g)
        assert sorted(p.tolist()) == list(range(n)) and (p != torch.arange(n)).all()
    assert derangement(1).tolist() == [0]
    torch.manual_seed(0)
    stat = StatisticsNetwork(2, 2, 8)
    x = torch.rand(5, 2)
    with torch.no_grad():
        v = mi_jsd_estimate(stat, x, x, derangement(5))
    assert torch.isfinite(v) and float(v) <= 2 * math.log(2) + 1e-9


def test_mi_estimator_learns_dependence():
    """Maximising the bound separates dependent from independent pairs (sanity of sign)."""
    torch.manual_seed(0)
    stat = StatisticsNetwork(1, 1, 32)
    opt = torch.optim.Adam(stat.parameters(), lr=1e-2)
    x = torch.randn(256, 1)
    for _ in range(400):
        opt.zero_grad()
        (-mi_jsd_estimate(stat, x, x + 0.05 * torch.randn_like(x), derangement(256))).backward()
        opt.step()
    with torch.no_grad():
        dep = float(mi_jsd_estimate(stat, x, x, derangement(256)))
        indep = float(mi_jsd_estimate(stat, x, torch.randn_like(x), derangement(256)))
    assert dep > -0.6 and dep > indep + 1.0  # untrained: about -2 log 2


def naive_scd_general(hs, ht, eta, keep, normalize):
    """Loops: student i compares on its kept dims (both sides), optionally normalised."""
    n = hs.shape[0]
    rows = [i for i in range(n) if keep[i].any()]
    def dist(i, j):
        a, b = hs[i][keep[i]], ht[j][keep[i]]
        if normalize:
            a, b = a / a.norm(), b / b.norm()
        return float(torch.linalg.norm(a - b))
    pos = sum(dist(i, i) ** 2 for i in rows) / len(rows)
    negs = [max(0.0, eta - dist(i, j)) ** 2 for i in rows for j in range(n) if j != i]
    return pos + sum(negs) / len(negs)


def naive_cpd_keep(hs, ht, y, keep):
    classes = sorted(set(y.tolist()))
    def protos(h):
        return {k: torch.stack([h[i] for i in range(len(y)) if y[i] == k]).mean(0) for k in classes}
    ps, pt = protos(hs), protos(ht)
    rows = [i for i in range(len(y)) if keep[i].any()]
    tot = 0.0
    for i in rows:
        k_i = keep[i]
        for k in classes:
            a, p = hs[i][k_i], ps[k][k_i]
            b, q = ht[i][k_i], pt[k][k_i]
            tot += (float(a @ p / (a.norm() * p.norm())) - float(b @ q / (b.norm() * q.norm()))) ** 2
    return tot / (len(rows) * len(classes))


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("n,eta", [(2, 0.5), (6, 1.0), (7, 3.0)])
def test_scd_blocks_and_normalised_match_naive(n, eta, normalize):
    g = torch.Generator().manual_seed(10 + n)
    hs = torch.randn(n, 6, generator=g, dtype=torch.float64)
    ht = torch.randn(n, 6, generator=g, dtype=torch.float64)
    present = torch.rand(n, 3, generator=g) > 0.4
    present[0] = torch.tensor([True, False, True])
    keep = present.repeat_interleave(2, dim=1)  # 3 blocks of 2 dims
    got = float(scd_loss(hs, ht, eta, keep, normalize))
    assert math.isclose(got, naive_scd_general(hs, ht, eta, keep, normalize), rel_tol=1e-9)
    # every dim kept, not normalised: the original SCD
    full = torch.ones_like(keep)
    assert math.isclose(float(scd_loss(hs, ht, eta, full)), naive_scd(hs, ht, eta), rel_tol=1e-9)


def test_scd_blocks_degenerate():
    hs = torch.randn(3, 4, requires_grad=True)
    ht = torch.randn(3, 4)
    none = torch.zeros(3, 4, dtype=torch.bool)
    z = scd_loss(hs, ht, 1.0, none, True)
    assert float(z.detach()) == 0.0
    z.backward()
    assert torch.equal(hs.grad, torch.zeros_like(hs))
    # an absent block's values cannot change the loss
    keep = torch.tensor([[1, 1, 0, 0]] * 3).bool()
    a = scd_loss(hs, ht, 1.0, keep)
    hs2 = hs.detach().clone()
    hs2[:, 2:] += 100.0
    assert torch.allclose(a, scd_loss(hs2, ht, 1.0, keep))
    # normalised: identical directions give 0 positive distance, margin <= 2 bounds negatives
    h = torch.randn(4, 5)
    assert float(scd_loss(3 * h, h, 1e-3, normalize=True)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("classes", [[0, 1, 0, 1, 1], [0, 1, 2, 2, 0, 1, 1]])
def test_cpd_blocks_match_naive(classes):
    y = torch.tensor(classes)
    g = torch.Generator().manual_seed(len(classes))
    hs = torch.randn(len(y), 6, generator=g, dtype=torch.float64)
    ht = torch.randn(len(y), 6, generator=g, dtype=torch.float64)
    present = torch.rand(len(y), 3, generator=g) > 0.4
    present[:, 0] = True
    present[-1] = False  # a row with nothing kept is left out
    keep = present.repeat_interleave(2, dim=1)
    assert math.isclose(float(cpd_loss(hs, ht, y, keep)), naive_cpd_keep(hs, ht, y, keep), rel_tol=1e-9)
    assert math.isclose(float(cpd_loss(hs, ht, y, torch.ones_like(keep))),
                        float(cpd_loss(hs, ht, y)), rel_tol=1e-9)
    assert float(cpd_loss(hs, ht, y, torch.zeros_like(keep))) == 0.0
