"""Reader for MulT / MultiBench pickles (spec §1.3).

Layout: ``{"train"|"valid"|"test": {"vision", "audio", "text", "labels", "id"}}``, word-aligned
to one padded length (50 for MOSI/MOSEI), text = GloVe-300.

Choices:

- **labels** of shape (N,), (N, 1) or (N, 1, 1) are flattened to (N,) sentiment scores in
  [-3, 3]. Label arrays with more than one value per sample (IEMOCAP's one-hot classes) are
  refused.
- **lengths** are not stored in these files. For aligned data (all three padded lengths equal)
  the real frames of a sample are the span from the first to the last frame that is non-zero
  in *any* modality; leading zero frames (left padding) are moved to the end so that the
  result is zero-padded at the end like every other dataset, and the three modalities share
  that length. Without equal padded lengths each modality gets its own last-non-zero length.
  Lengths are at least 1 (an all-zero sample keeps one zero frame; MultiBench would drop
  it — we keep it, logged with a count).
- ``id``: 1-D ids are used as strings; 2-D rows (video, start, end) are joined with ``_``;
  a missing ``id`` becomes ``{split}_{i}``.
- Non-finite values (NaN, ±inf) are refused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from robustmsa.data.readers.common import (
    as_float,
    as_ids,
    as_labels,
    check_rows,
    get_key,
    get_splits,
    lengths_from_nonzero,
    read_split_pickle,
)
from robustmsa.data.schema import MSADataset, MSASplit, infer_info
from robustmsa.types import MODALITIES

logger = logging.getLogger(__name__)

LABEL_KEY = "labels"


def detect(obj: Any) -> bool:
    """True if ``obj`` looks like a MulT/MultiBench pickle (splits with ``labels`` + ``vision``)."""
    if not isinstance(obj, Mapping):
        return False
    first = next((v for k, v in obj.items() if k in ("train", "valid", "test")), None)
    return (isinstance(first, Mapping) and LABEL_KEY in first
            and "regression_labels" not in first)


def trim_aligned(feats: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Shift each sample's non-zero span to the start; return features and shared lengths.

    Args:
        feats: modality -> (N, T, D) arrays with the same T.

    Returns:
        The shifted arrays (zero-padded at the end) and (N,) lengths (>= 1).
    """
    any_nz = np.zeros(next(iter(feats.values())).shape[:2], dtype=bool)
    for x in feats.values():
        any_nz |= np.any(x != 0, axis=2)
    t = any_nz.shape[1]
    has = any_nz.any(axis=1)
    first = np.where(has, np.argmax(any_nz, axis=1), 0)
    last = np.where(has, t - np.argmax(any_nz[:, ::-1], axis=1), 1)
    lengths = np.maximum(last - first, 1).astype(np.int64)
    if not first.any():
        return feats, lengths
    idx = np.arange(t)[None, :] + first[:, None]  # (N, T)
    valid = idx < t
    idx = np.minimum(idx, t - 1)
    out = {}
    for m, x in feats.items():
        y = np.take_along_axis(x, idx[:, :, None], axis=1)
        out[m] = y * valid[:, :, None]
    return out, lengths


def _read_split(d: Mapping, *, source: str, split: str) -> MSASplit:
    labels_raw = get_key(d, LABEL_KEY, source=source, split=split)
    shape = np.shape(labels_raw)
    n = int(shape[0]) if shape else 0
    labels = as_labels(labels_raw, n, source=source, split=split, key=LABEL_KEY)
    feats: dict[str, np.ndarray] = {}
    for m in MODALITIES:
        x = as_float(get_key(d, m, source=source, split=split), source=source, split=split,
                     key=m, ndim=3)
        check_rows(x, n, source=source, split=split, key=m, label_key=LABEL_KEY)
        feats[m] = x
    if len({x.shape[1] for x in feats.values()}) == 1 and n > 0:
        bad = {m: ~np.isfinite(x) for m, x in feats.items()}
        if not any(b.any() for b in bad.values()):  # non-finite: let validate_split report
            feats, shared = trim_aligned(feats)
            lengths = {m: shared.copy() for m in feats}
            empty = int(sum(~np.any(feats["text"] != 0, axis=(1, 2))))
            if empty:
                logger.info("%s [%s]: %d samples have all-zero text (kept)", source, split, empty)
        else:
            lengths = {m: np.full(n, x.shape[1], dtype=np.int64) for m, x in feats.items()}
    else:
        lengths = {m: np.maximum(lengths_from_nonzero(x), 1) for m, x in feats.items()}
    ids = as_ids(d.get("id"), n, source=source, split=split)
    return MSASplit(features=feats, lengths=lengths, labels=labels, ids=ids)


def from_object(obj: Any, *, source: str, name: str) -> MSADataset:
    """Build a dataset from an already (safely) unpickled MulT/MultiBench object."""
    raw = get_splits(obj, source=source)
    splits = {s: _read_split(d, source=source, split=s) for s, d in raw.items()}
    notes = ("MulT/MultiBench pickle (word-aligned); text = GloVe; lengths inferred from "
             "non-zero frames (left padding moved to the end)")
    return MSADataset(splits=splits, info=infer_info(splits, name=name, source=source,
                                                     notes=notes))


def read_mult_pickle(path: str | os.PathLike, *, name: str | None = None) -> MSADataset:
    """Read a MulT / MultiBench pickle with the safe unpickler.

    Args:
        path: the ``.pkl`` file (e.g. ``mosi_data.pkl``).
        name: dataset name; defaults to the file stem.

    Raises:
        DataError: unsafe/corrupt pickle, missing split or key, bad shapes, non-finite values.
    """
    return read_split_pickle(path, name=name, what="a MulT/MultiBench pickle", build=from_object)
