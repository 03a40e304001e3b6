"""Reader for MMSA-FET single-video feature pickles (``run_single`` output; spec §1.2).

Layout: ``{"text": (L, 768), "text_bert": (3, L), "audio": (T_a, d_a), "vision": (T_v, d_v),
"config": {...}, "align": [...]?}``. `read_fet_features` returns the three (T, D) arrays;
`read_fet_dataset` wraps them as a one-sample dataset (a single ``test`` split, label 0.0 because
the file carries none) so that the file can go through ``data info`` / ``convert``.

As in the MMSA reader, ``-inf`` in audio becomes 0 and any other non-finite value is refused;
the text length is the attention-mask count of ``text_bert`` when present.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from robustmsa.data.readers.common import as_float
from robustmsa.data.safe_pickle import safe_load_pickle
from robustmsa.data.schema import MSADataset, MSASplit, infer_info
from robustmsa.errors import DataError
from robustmsa.types import MODALITIES

logger = logging.getLogger(__name__)

SPLIT = "test"


def detect(obj: Any) -> bool:
    """True if ``obj`` is a single-video FET dict (modality keys holding 2-D arrays)."""
    return isinstance(obj, Mapping) and all(
        isinstance(obj.get(m), np.ndarray) and obj[m].ndim == 2 for m in MODALITIES
    )


def features_from_object(obj: Any, *, source: str) -> dict[str, np.ndarray]:
    """Validated modality -> (T, D) float32 arrays from an unpickled FET dict."""
    if not isinstance(obj, Mapping):
        raise DataError(f"{source}: expected an MMSA-FET feature dict; got {type(obj).__name__}")
    out: dict[str, np.ndarray] = {}
    for m in MODALITIES:
        if m not in obj:
            raise DataError(
                f"{source}: missing key {m!r} (keys present: {', '.join(map(str, obj))})"
            )
        x = as_float(obj[m], source=source, split="single video", key=m, ndim=2)
        if m == "audio" and np.isneginf(x).any():
            logger.warning("%s: set %d -inf values in 'audio' to 0", source,
                           int(np.isneginf(x).sum()))
            x = np.where(np.isneginf(x), np.float32(0), x)
        if not np.all(np.isfinite(x)):
            raise DataError(f"{source}: {m!r} contains {int((~np.isfinite(x)).sum())} "
                            "NaN/±inf values")
        if x.shape[0] == 0:
            raise DataError(f"{source}: {m!r} has no frames (shape {x.shape})")
        out[m] = x
    return out


def _text_length(obj: Mapping, t: int) -> int:
    tb = obj.get("text_bert")
    if isinstance(tb, np.ndarray) and tb.ndim == 2 and tb.shape[0] >= 2 and tb.shape[1] == t:
        return int(max(1, min(t, int((tb[1] != 0).sum()))))
    return t


def read_fet_features(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read one MMSA-FET single-video pickle with the safe unpickler.

    Args:
        path: e.g. ``feature_aligned.pkl``.

    Returns:
        ``{"text": (L, D_t), "audio": (T_a, D_a), "vision": (T_v, D_v)}`` float32 arrays.

    Raises:
        DataError: unsafe/corrupt pickle, missing modality, wrong rank, non-finite values.
    """
    p = Path(path)
    return features_from_object(safe_load_pickle(p), source=str(p))


def from_object(obj: Any, *, source: str, name: str) -> MSADataset:
    """A one-sample dataset (split ``test``, label 0.0 = unlabelled) from a FET dict."""
    feats = features_from_object(obj, source=source)
    lengths = {m: np.array([x.shape[0]], dtype=np.int64) for m, x in feats.items()}
    lengths["text"] = np.array([_text_length(obj, feats["text"].shape[0])], dtype=np.int64)
    split = MSASplit(
        features={m: x[None] for m, x in feats.items()},
        lengths=lengths,
        labels=np.zeros(1, dtype=np.float32),
        ids=np.array([name]),
    )
    splits = {SPLIT: split}
    return MSADataset(splits=splits, info=infer_info(
        splits, name=name, source=source,
        notes="MMSA-FET single-video features; unlabelled (label 0.0 is a placeholder)"))


def read_fet_dataset(path: str | os.PathLike, *, name: str | None = None) -> MSADataset:
    """`read_fet_features` wrapped as a one-sample `MSADataset` (see `from_object`)."""
    p = Path(path)
    return from_object(safe_load_pickle(p), source=str(p), name=name or p.stem)
