"""Jensen-Shannon mutual-information estimator (Deep InfoMax; Hjelm et al., ICLR 2019).

MI_JSD(X; Y) = E_{p(x,y)}[-softplus(-T(x, y))] - E_{p(x)p(y)}[softplus(T(x, y'))]

with a learned statistics network T and product-of-marginals samples obtained by pairing x_i
with y_{pi(i)} for a random permutation pi of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustmsa.nn.layers import MLP


def jsd_mi(t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    """JSD lower bound from statistics-network scores. Shapes: (B,), (B,) -> scalar."""
    return (-F.softplus(-t_joint)).mean() - F.softplus(t_marginal).mean()


def derangement(n: int, generator: torch.Generator | None = None, device=None) -> Tensor:
    """A random permutation of range(n) with no fixed point (n >= 2); identity for n < 2."""
    if n < 2:
        return torch.arange(n, device=device)
    shift = int(torch.randint(1, n, (1,), generator=generator).item())
    perm = torch.randperm(n, generator=generator)
    # rotating a random order by a non-zero shift guarantees no sample meets itself
    out = torch.empty(n, dtype=torch.long)
    out[perm] = perm.roll(shift)
    return out.to(device)


class StatisticsNetwork(nn.Module):
    """T_theta(x, y): an MLP on the concatenation [x; y] -> scalar score.

    Args:
        x_dim: width of x. y_dim: width of y. hidden: hidden width (spec default 64).
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = MLP([x_dim + y_dim, hidden, hidden, 1])

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([x, y], dim=-1)).squeeze(-1)  # (B,)


def mi_jsd_estimate(
    stat: StatisticsNetwork, x: Tensor, y: Tensor, perm: Tensor
) -> Tensor:
    """MI_JSD(x; y) with marginal pairs (x_i, y_perm(i)). Shapes: (B, Dx), (B, Dy), (B,)."""
    return jsd_mi(stat(x, y), stat(x, y[perm]))
