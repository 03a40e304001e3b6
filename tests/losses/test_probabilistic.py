"""Student's-t mixture moments, weights, sampling and log-densities vs loop references."""

from __future__ import annotations

import math

import pytest
import torch

from robustmsa.losses.probabilistic import (
    confidence_weights,
    mixture_log_prob,
    mixture_moments,
    mixture_uncertainty,
    sample_student_t,
    student_t_log_prob,
    student_t_variance,
)


def _components(b=3, m=3, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(b, m, d, generator=g, dtype=torch.float64)
    scale = torch.rand(b, m, d, generator=g, dtype=torch.float64) + 0.1
    df = torch.rand(b, m, 1, generator=g, dtype=torch.float64) * 10 + 2.5
    return mu, scale, df


def test_confidence_weights_mask_missing_and_empty_rows():
    kappa = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.1, 9.0], [1.0, 1.0, 1.0]], requires_grad=True)
    present = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]], dtype=torch.bool)
    w = confidence_weights(kappa, present)
    assert torch.allclose(w[0], torch.softmax(kappa[0], 0))
    assert w[1].tolist() == [1.0, 0.0, 0.0]
    assert w[2].tolist() == [0.0, 0.0, 0.0]  # nothing present: all zero, no NaN
    w.sum().backward()
    assert torch.isfinite(kappa.grad).all()


def test_mixture_moments_match_loop_reference():
    mu, scale, df = _components()
    var_c = student_t_variance(scale, df)
    w = torch.tensor([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.0, 0.4, 0.6]], dtype=torch.float64)
    mean, var = mixture_moments(mu, var_c, w)
    for b in range(3):
        for d in range(4):
            m = sum(float(w[b, k] * mu[b, k, d]) for k in range(3))
            second = 0.0
            for k in range(3):
                s, nu = float(scale[b, k, d]), float(df[b, k, 0])
                second += float(w[b, k]) * (s * s * nu / (nu - 2) + float(mu[b, k, d]) ** 2)
            assert float(mean[b, d]) == pytest.approx(m, rel=1e-10)
            assert float(var[b, d]) == pytest.approx(second - m * m, rel=1e-9)
    assert torch.allclose(mixture_uncertainty(var), var.mean(-1))


def test_one_component_and_missing_modality():
    mu, scale, df = _components()
    var_c = student_t_variance(scale, df)
    w = torch.tensor([[0.0, 1.0, 0.0]] * 3, dtype=torch.float64)  # one modality present
    mean, var = mixture_moments(mu, var_c, w)
    assert torch.allclose(mean, mu[:, 1]) and torch.allclose(var, var_c[:, 1])
    # a modality missing for every sample: its values do not matter
    w2 = torch.tensor([[0.3, 0.7, 0.0]] * 3, dtype=torch.float64)
    mu2 = mu.clone()
    mu2[:, 2] = 1e6
    var_c2 = var_c.clone()
    var_c2[:, 2] = float("1e6")
    a, b = mixture_moments(mu, var_c, w2), mixture_moments(mu2, var_c2, w2)
    assert torch.allclose(a[0], b[0]) and torch.allclose(a[1], b[1])
    # empty mixture row (no modality at all): zeros, finite
    mean0, var0 = mixture_moments(mu, var_c, torch.zeros(3, 3, dtype=torch.float64))
    assert mean0.abs().sum() == 0 and var0.abs().sum() == 0


def test_student_t_variance_matches_monte_carlo():
    scale = torch.tensor([[0.5, 2.0]])
    df = torch.tensor([[8.0]])
    z = sample_student_t(torch.zeros(1, 2), scale, df, clip=1e6, num_samples=200_000)
    emp = z.var(0)
    assert torch.allclose(emp, student_t_variance(scale, df), rtol=0.05)


def test_sampling_is_reparameterised_clipped_and_finite():
    mu = torch.zeros(2, 3, 4, requires_grad=True)
    scale = torch.full((2, 3, 4), 0.5, requires_grad=True)
    df = torch.full((2, 3, 1), 2.1, requires_grad=True)  # heaviest allowed tails
    z = sample_student_t(mu, scale, df, clip=3.0, num_samples=5)
    assert z.shape == (5, 2, 3, 4) and z.dtype == torch.float32
    assert z.abs().max() <= 3.0 * 0.5 + 1e-6
    z.pow(2).sum().backward()
    for p in (mu, scale, df):
        assert p.grad is not None and torch.isfinite(p.grad).all()
    # batch of one
    z1 = sample_student_t(torch.zeros(1, 4), torch.ones(1, 4), torch.full((1, 1), 3.0))
    assert z1.shape == (1, 1, 4) and torch.isfinite(z1).all()


def test_mixture_log_prob_matches_loop_reference():
    mu, scale, df = _components(b=2, m=3, d=2)
    w = torch.tensor([[0.25, 0.75, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    z = torch.randn(4, 2, 2, dtype=torch.float64)  # (S, B, D)
    got = mixture_log_prob(z, mu, scale, df, w)
    assert got.shape == (4, 2)
    for s in range(4):
        for b in range(2):
            if w[b].sum() == 0:
                assert got[s, b].item() == 0.0  # empty mixture row
                continue
            dens = 0.0
            for k in range(3):
                if w[b, k] == 0:
                    continue
                lp = 0.0
                for d in range(2):
                    nu, sc = float(df[b, k, 0]), float(scale[b, k, d])
                    x = (float(z[s, b, d]) - float(mu[b, k, d])) / sc
                    lp += (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)
                           - 0.5 * math.log(nu * math.pi) - math.log(sc)
                           - (nu + 1) / 2 * math.log1p(x * x / nu))
                dens += float(w[b, k]) * math.exp(lp)
            assert got[s, b].item() == pytest.approx(math.log(dens), rel=1e-9)
    one = student_t_log_prob(z[0], mu[:, 0], scale[:, 0], df[:, 0])
    assert one.shape == (2,)
