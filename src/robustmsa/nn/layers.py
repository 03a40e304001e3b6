"""Reusable layers: sinusoidal positional encoding, masked mean pooling, MLP."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_positions(length: int, dim: int) -> Tensor:
    """(length, dim) sinusoidal positional encoding (Vaswani et al., 2017)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: dim // 2])
    return pe


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` over valid time steps; rows with no valid step give 0.

    Shapes:
        x: (B, T, D); mask: (B, T) bool -> (B, D).
    """
    w = mask.to(x.dtype)[..., None]  # (B, T, 1)
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


class MLP(nn.Sequential):
    """Linear-ReLU-Dropout blocks ending with a plain Linear.

    Args:
        dims: layer widths, input first, output last (at least two entries).
        dropout: dropout after every hidden activation.
    """

    def __init__(self, dims: list[int], dropout: float = 0.0) -> None:
        if len(dims) < 2:
            raise ValueError("MLP needs at least input and output widths")
        layers: list[nn.Module] = []
        for i in range(len(dims) - 2):
            layers += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(dims[-2], dims[-1]))
        super().__init__(*layers)
