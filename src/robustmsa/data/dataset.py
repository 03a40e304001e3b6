"""Torch dataset over an `MSASplit` and the collate function that builds a `Batch`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from robustmsa.data.schema import MSASplit
from robustmsa.types import MODALITIES, Batch


class SplitDataset(Dataset):
    """Indexable view of a split; items are row indices, collated by `collate_rows`.

    Keeping items as plain indices lets the collate function slice the NumPy arrays once per
    batch (fast on CPU) and keeps the sample index available for seeding masks.
    """

    def __init__(self, split: MSASplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> int:
        return int(i)


def collate_rows(split: MSASplit, rows: Sequence[int]) -> Batch:
    """Build a complete (nothing dropped) `Batch` from rows of ``split``.

    Modalities with length 0 for a sample are marked not present and their features are zero.
    The frame mask is ``split.frame_valid[m]`` where the split carries one (frames missing in
    the middle or at the start), else the first ``lengths`` frames.
    """
    idx = np.asarray(rows, dtype=np.int64)
    feats, fmask, lens, pres = {}, {}, {}, []
    for m in MODALITIES:
        if m not in split.features:
            continue
        x = torch.from_numpy(np.ascontiguousarray(split.features[m][idx], dtype=np.float32))
        ln = torch.from_numpy(np.asarray(split.lengths[m][idx], dtype=np.int64))
        if m in split.frame_valid:
            mask = torch.from_numpy(np.ascontiguousarray(split.frame_valid[m][idx], dtype=bool))
        else:
            t = torch.arange(x.shape[1])
            mask = t[None, :] < ln[:, None]  # (B, T)
        feats[m] = x * mask[..., None]  # padding is exactly zero
        fmask[m] = mask
        lens[m] = ln
        pres.append(ln > 0)
    present = torch.stack(pres, dim=1) if pres else torch.zeros(len(idx), 0, dtype=torch.bool)
    labels = torch.from_numpy(np.asarray(split.labels[idx]))
    if labels.dtype in (torch.float64, torch.float16):
        labels = labels.float()
    extras: dict[str, torch.Tensor] = {}
    for k, v in split.extras.items():
        extras[k] = torch.from_numpy(np.ascontiguousarray(v[idx]))
    return Batch(
        features=feats,
        frame_mask=fmask,
        lengths=lens,
        present=present,
        labels=labels,
        ids=tuple(str(s) for s in split.ids[idx]),
        index=torch.from_numpy(idx),
        extras=extras,
        groups=None if split.groups is None else tuple(str(g) for g in split.groups[idx]),
    )


def iterate_batches(
    split: MSASplit,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: np.random.Generator | None = None,
    drop_last: bool = False,
):
    """Yield `Batch` objects over ``split`` in order (or shuffled with ``generator``)."""
    n = len(split)
    order = np.arange(n)
    if shuffle:
        if generator is None:
            raise ValueError("shuffle=True needs an explicit generator (no global RNG)")
        order = generator.permutation(n)
    for s in range(0, n, batch_size):
        rows = order[s : s + batch_size]
        if drop_last and len(rows) < batch_size:
            break
        yield collate_rows(split, rows)
