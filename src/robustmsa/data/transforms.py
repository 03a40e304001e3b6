"""Per-feature standardisation with statistics from the training split only.

Missing must stay exactly zero at the network input (CorrKD spec §4), so standardisation is
applied first (here, at load time) and masking afterwards; padding frames stay zero. The
statistics travel in checkpoints so raw features are normalised identically at inference.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from robustmsa.data.schema import MSADataset, MSASplit

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


def standardize(ds: MSADataset, stats: NormStats | None = None) -> MSADataset:
    """Copy of ``ds`` standardised with ``stats`` (default: fitted on ``ds["train"]``)."""
    stats = stats or fit_norm_stats(ds["train"])
    splits = {}
    for name, sp in ds.splits.items():
        feats = {m: apply_norm(x, sp.lengths[m], stats[m], sp.frame_valid.get(m))
                 for m, x in sp.features.items()}
        splits[name] = replace(sp, features=feats)
    out = MSADataset(splits=splits, info=ds.info)
    out.norm_stats = stats  # type: ignore[attr-defined]
    return out


def prepare_data(source: str, *, seed: int = 0, standardize_features: bool = True,
                 cv: dict | None = None) -> MSADataset:
    """`load_data` + (optional) CV fold (`robustmsa.data.cv.carve_fold` keyword arguments)
    + (optional) training-split standardisation: what every run uses."""
    from robustmsa.data import load_data

    ds = load_data(source, seed=seed)
    if cv:
        from robustmsa.data.cv import carve_fold

        ds = carve_fold(ds, **cv)
    return standardize(ds) if standardize_features else ds
