"""Per-feature standardisation with statistics from the training split only.

Missing must stay exactly zero at the network input (CorrKD spec §4), so standardisation is
applied first and masking afterwards; padding frames stay zero. The trainer fits the statistics
on its training split (`fit_norm_stats`) and stores them in every checkpoint; features reach a
model only through `robustmsa.data.prepare.prepare_for_checkpoint`, which applies them
(`apply_norm`) — there is no other standardisation path.
"""

from __future__ import annotations

import numpy as np

from robustmsa.data.schema import MSASplit

NormStats = dict[str, tuple[np.ndarray, np.ndarray]]


def fit_norm_stats(split: MSASplit, eps: float = 1e-6) -> NormStats:
    """Per-feature mean / std over the valid frames of ``split`` (constant features: std 1)."""
    out: NormStats = {}
    for m, x in split.features.items():
        valid = split.valid_mask(m)  # (N, T)
        frames = x[valid].astype(np.float64)  # (n_valid, D)
        mean = frames.mean(0) if len(frames) else np.zeros(x.shape[2])
        std = frames.std(0) if len(frames) else np.ones(x.shape[2])
        std = np.where(std < eps, 1.0, std)
        out[m] = (mean.astype(np.float32), std.astype(np.float32))
    return out


def apply_norm(x: np.ndarray, lengths: np.ndarray | None, stats: tuple[np.ndarray, np.ndarray],
               valid: np.ndarray | None = None) -> np.ndarray:
    """Standardise (N, T, D) (or (T, D) with lengths None) features; padding stays zero.

    ``valid`` (N, T) bool, when given, is the explicit frame mask (`MSASplit.frame_valid`):
    every other frame stays zero too.
    """
    mean, std = stats
    y = ((x - mean) / std).astype(np.float32)
    if valid is not None:
        y[~np.asarray(valid, dtype=bool)] = 0.0
    elif lengths is not None:
        keep = np.arange(x.shape[1])[None, :] < lengths[:, None]
        y[~keep] = 0.0
    return y
