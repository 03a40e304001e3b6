"""Reconstruction / translation losses of the imputation and translation baselines.

- `masked_frame_loss`: MSE or MAE between predicted and true feature sequences over the valid
  frames only, on the modality's own feature width (MCTN translations, TransM's MAE terms).
- `masked_recon_loss`: GCNet's ``MaskedReconLoss`` on utterance vectors, missing entries only.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor


def masked_frame_loss(pred: Tensor, target: Tensor, mask: Tensor, kind: str = "mse") -> Tensor:
    """Mean squared (``"mse"``) or absolute (``"mae"``) error over the valid frames.

    Shapes: pred, target (B, T, D); mask (B, T) bool. Returns
    ``sum_{b,t: mask} sum_d err / (#valid frames * D)``; 0 when no frame is valid.
    """
    if kind not in ("mse", "mae"):
        raise ValueError(f"kind must be 'mse' or 'mae'; got {kind!r}")
    diff = pred - target
    err = diff.pow(2) if kind == "mse" else diff.abs()  # (B, T, D)
    w = mask.to(err.dtype)[..., None]  # (B, T, 1)
    return (err * w).sum() / (w.sum() * err.shape[-1]).clamp_min(1.0)


def masked_recon_loss(recon: Tensor, target: Tensor, missing: Tensor, widths: Sequence[int]
                      ) -> Tensor:
    """Squared error on missing entries only, each modality's error divided by its width.

    Shapes: recon, target (N, sum(widths)); missing (N, M) bool (True = entry to reconstruct),
    columns in the order of ``widths``. Returns
    ``sum_m sum_u missing_um ||recon_um - target_um||^2 / d_m / N`` (GCNet normalises by the
    number of utterances N, not of missing entries).
    """
    n = max(recon.shape[0], 1)
    loss = recon.new_zeros(())
    start = 0
    for k, d in enumerate(widths):
        err = (recon[:, start : start + d] - target[:, start : start + d]).pow(2).sum(-1)  # (N,)
        loss = loss + (err * missing[:, k].to(err.dtype)).sum() / d
        start += d
    return loss / n
