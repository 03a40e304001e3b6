"""Cascade residual autoencoder (MMIN's "imagination" network, Zhao et al. ACL 2021).

K autoencoder blocks in a residual cascade over a fused vector h (the structure of
``ResidualAE`` in ``AIM3-RUC/MMIN``, re-implemented):

    x_0 = h, out_0 = 0;  for k = 1..K:  x_k = x_{k-1} + out_{k-1},  z_k = Enc_k(x_k),
    out_k = Dec_k(z_k);  h_hat = T(x_K + out_K),  z = [z_1; ...; z_K]

Enc_k: Linear layers ``in -> l_1 -> ... -> l_L`` with LeakyReLU between them (none after the
last); Dec_k: the mirror ``l_L -> ... -> l_1 -> in`` with ReLU between and a linear output;
T: Linear(in, in) - ReLU - Linear(in, in).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def _stack(dims: Sequence[int], act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class CascadeResidualAE(nn.Module):
    """Args:
        in_dim: width of the fused vector h.
        layers: encoder widths l_1..l_L (MMIN code default 128, 64, 32).
        n_blocks: K (code default 3; the IEMOCAP script uses 5).
    """

    def __init__(self, in_dim: int, layers: Sequence[int] = (128, 64, 32), n_blocks: int = 3
                 ) -> None:
        super().__init__()
        if n_blocks < 1 or not layers or min(layers) < 1:
            raise ValueError(f"need n_blocks >= 1 and positive layer widths; got {n_blocks}, "
                             f"{list(layers)}")
        dims = [in_dim, *layers]
        self.encoders = nn.ModuleList(_stack(dims, nn.LeakyReLU) for _ in range(n_blocks))
        self.decoders = nn.ModuleList(_stack(dims[::-1], nn.ReLU) for _ in range(n_blocks))
        self.transition = nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(),
                                        nn.Linear(in_dim, in_dim))
        self.latent_dim = layers[-1] * n_blocks

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """h: (B, in) -> (h_hat (B, in), z (B, K * l_L))."""
        x, out = h, torch.zeros_like(h)
        latents = []
        for enc, dec in zip(self.encoders, self.decoders, strict=True):
            x = x + out
            z = enc(x)
            out = dec(z)
            latents.append(z)
        return self.transition(x + out), torch.cat(latents, dim=-1)
