"""Mixture-of-Student's-t probabilistic embeddings: weights, moments, uncertainty, sampling.

Reference: CASD, Luo, Wang et al., "Confidence-Aware Self-Distillation for Multimodal
Sentiment Analysis with Incomplete Modalities", arXiv 2506.01490 (ICME 2025). The paper's
equations are not public; these follow the project spec ``other_methods.md`` §3.3 [inferred]:

    p(z | x) = sum_m pi_m St(z; mu_m, diag sigma_m^2, nu_m)
    Var_m = sigma_m^2 nu_m / (nu_m - 2),  z_bar = sum_m pi_m mu_m,
    Var = sum_m pi_m (Var_m + mu_m^2) - z_bar^2,  U = mean_d Var.

Shapes: B batch, M mixture components (modalities), D embedding width. Components whose
weight is 0 (missing modalities) contribute nothing; a row with no component at all gets zero
weights, mean 0 and variance 0 (callers define their own fallback).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import StudentT

from robustmsa.nn.umca import masked_softmax


def confidence_weights(kappa: Tensor, present: Tensor) -> Tensor:
    """Mixture weights pi = softmax of the confidence logits over the present modalities.

    Shapes: kappa (B, M), present (B, M) bool -> (B, M); missing modalities get weight 0.
    """
    return masked_softmax(kappa, present, dim=-1)


def student_t_variance(scale: Tensor, df: Tensor) -> Tensor:
    """Per-dimension variance sigma^2 nu / (nu - 2) of a Student's t (needs nu > 2).

    Shapes: scale (..., D), df broadcastable (e.g. (..., 1)) -> (..., D).
    """
    return scale.pow(2) * df / (df - 2.0)


def mixture_moments(mu: Tensor, var: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (diagonal) variance of a mixture from its components' moments.

    Args:
        mu: (B, M, D) component means.
        var: (B, M, D) component variances.
        weights: (B, M) mixture weights (rows sum to 1, or to 0 for an empty mixture).

    Returns:
        mean (B, D) and variance (B, D) >= 0 (law of total variance).
    """
    w = weights[..., None]  # (B, M, 1)
    mean = (w * mu).sum(1)  # (B, D)
    second = (w * (var + mu.pow(2))).sum(1)  # (B, D)
    return mean, (second - mean.pow(2)).clamp_min(0.0)


def mixture_uncertainty(var: Tensor) -> Tensor:
    """Uncertainty score U = mean over dimensions of the mixture variance. (B, D) -> (B,)."""
    return var.mean(-1)


def sample_student_t(
    mu: Tensor, scale: Tensor, df: Tensor, *, clip: float = 10.0, num_samples: int = 1
) -> Tensor:
    """Reparameterised samples z = mu + sigma * t, t ~ St(nu, 0, 1), t clipped to [-clip, clip].

    The standard-t draw uses ``torch.distributions.StudentT.rsample`` (differentiable w.r.t.
    nu) in float64, since PyTorch documents it as imprecise in float32.

    Shapes: mu, scale (..., D), df broadcastable (..., 1) -> (S, ..., D) with S = num_samples.
    """
    df64 = df.double().expand(mu.shape)
    t = StudentT(df64, torch.zeros_like(df64), torch.ones_like(df64)).rsample((num_samples,))
    t = t.clamp(-clip, clip).to(mu.dtype)  # (S, ..., D)
    return mu + scale * t


def student_t_log_prob(z: Tensor, mu: Tensor, scale: Tensor, df: Tensor) -> Tensor:
    """log St(z; mu, diag sigma^2, nu) summed over the last axis.

    Shapes: z, mu, scale (..., D), df broadcastable (..., 1) -> (...).
    """
    return StudentT(df.expand(mu.shape), mu, scale).log_prob(z).sum(-1)


def mixture_log_prob(
    z: Tensor, mu: Tensor, scale: Tensor, df: Tensor, weights: Tensor
) -> Tensor:
    """log sum_m pi_m St(z; mu_m, sigma_m, nu_m); zero-weight components are left out.

    Args:
        z: (..., B, D) points (leading sample axes allowed).
        mu, scale: (B, M, D); df: (B, M, 1); weights: (B, M).

    Returns:
        (..., B) log-densities; rows with no component give 0.
    """
    comp = student_t_log_prob(z[..., None, :], mu, scale, df)  # (..., B, M)
    has = weights > 0  # (B, M)
    logw = torch.where(has, weights.clamp_min(1e-30).log(), torch.finfo(z.dtype).min)
    lp = (comp + logw).logsumexp(-1)  # (..., B)
    return torch.where(has.any(-1), lp, 0.0)
