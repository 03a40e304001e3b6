"""Reader for MMSA feature pickles (``aligned_50.pkl``, ``unaligned_50.pkl``, SIMS
``unaligned_39.pkl``; spec §1.1).

Layout: ``{"train"|"valid"|"test": {"text", "audio", "vision", "regression_labels", ...}}``.

Choices (all dims and lengths come from the file, never from a config):

- **text** is the frozen BERT token feature array ``text`` (N, L, 768). Its length is the
  number of non-zero entries of the attention mask ``text_bert[:, 1, :]`` when ``text_bert``
  is present (BERT outputs at padded positions need not be zero), else the index of the last
  non-zero frame + 1.
- **unaligned files** (``audio_lengths``/``vision_lengths`` present): those lengths are used
  as they are; a length beyond the padded length is refused (`validate_split`).
- **aligned files** (no length keys, all three sequences share one padded length): the three
  modalities share one length — the text length above (MISA's convention for aligned data);
  without ``text_bert`` it is the last frame that is non-zero in *any* modality + 1, which is
  the full padded length whenever the file has no trailing zero padding.
- Sequences of different padded lengths without length keys get per-modality
  last-non-zero-frame lengths (logged).
- Inferred lengths are at least 1: an all-zero sequence is kept as one (uninformative) frame
  rather than marked absent, so the clean dataset stays complete.
- ``-inf`` in ``audio`` is set to 0, as MMSA's loader does (logged with a count); NaN anywhere,
  ``+inf`` anywhere and ``-inf`` outside audio are refused.
- SIMS unimodal labels ``regression_labels_T/_A/_V`` become extras ``labels_T/_A/_V``; the
  score range is (-1, 1) when they are present or every label lies in [-1, 1], else (-3, 3).
- ``raw_text``, ``annotations`` and ``classification_labels`` are ignored; a missing ``id``
  becomes ``{split}_{i}``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from robustmsa.data.groups import groups_from_ids
from robustmsa.data.readers.common import (
    as_float,
    as_ids,
    as_labels,
    as_lengths,
    check_rows,
    get_key,
    get_splits,
    lengths_from_nonzero,
    read_split_pickle,
)
from robustmsa.data.schema import MSADataset, MSASplit, infer_info
from robustmsa.errors import DataError
from robustmsa.types import MODALITIES

logger = logging.getLogger(__name__)

LABEL_KEY = "regression_labels"
UNIMODAL_LABELS: dict[str, str] = {
    "regression_labels_T": "labels_T",
    "regression_labels_A": "labels_A",
    "regression_labels_V": "labels_V",
}


def detect(obj: Any) -> bool:
    """True if ``obj`` looks like an MMSA feature pickle (a split dict with ``regression_labels``)."""
    if not isinstance(obj, Mapping):
        return False
    first = next((v for k, v in obj.items() if k in ("train", "valid", "test")), None)
    return isinstance(first, Mapping) and LABEL_KEY in first


def _text_lengths(d: Mapping, x: np.ndarray, *, source: str, split: str) -> np.ndarray | None:
    if "text_bert" not in d:
        return None
    tb = np.asarray(d["text_bert"])
    if tb.ndim != 3 or tb.shape[0] != x.shape[0] or tb.shape[1] < 2:
        raise DataError(
            f"{source} [{split}]: 'text_bert' must be (N, 3, L) with N={x.shape[0]}; "
            f"got shape {tb.shape}"
        )
    mask = tb[:, 1, :]
    if mask.dtype.kind not in "biuf" or not np.all(np.isfinite(mask.astype(np.float64))):
        raise DataError(f"{source} [{split}]: 'text_bert' attention mask (row 1) is not finite")
    return np.maximum((mask != 0).sum(axis=1), 1).astype(np.int64)


def _fix_audio_neg_inf(x: np.ndarray, *, source: str, split: str) -> np.ndarray:
    neg = np.isneginf(x)
    if neg.any():
        logger.warning(
            "%s [%s]: set %d -inf values in 'audio' to 0 (as MMSA's loader does)",
            source, split, int(neg.sum()),
        )
        x = np.where(neg, np.float32(0), x)
    return x


def _read_split(d: Mapping, *, source: str, split: str) -> MSASplit:
    labels_raw = get_key(d, LABEL_KEY, source=source, split=split)
    n = int(np.asarray(labels_raw).shape[0]) if np.ndim(labels_raw) else 0
    labels = as_labels(labels_raw, n, source=source, split=split, key=LABEL_KEY)
    feats: dict[str, np.ndarray] = {}
    for m in MODALITIES:
        x = as_float(get_key(d, m, source=source, split=split), source=source, split=split,
                     key=m, ndim=3)
        check_rows(x, n, source=source, split=split, key=m, label_key=LABEL_KEY)
        feats[m] = _fix_audio_neg_inf(x, source=source, split=split) if m == "audio" else x
    text_len = _text_lengths(d, feats["text"], source=source, split=split)
    lengths: dict[str, np.ndarray] = {}
    has_len = [k for k in ("audio_lengths", "vision_lengths") if k in d]
    if has_len:  # unaligned
        for m in ("audio", "vision"):
            key = f"{m}_lengths"
            lengths[m] = as_lengths(get_key(d, key, source=source, split=split), n,
                                    source=source, split=split, key=key)
        lengths["text"] = text_len if text_len is not None else np.maximum(
            lengths_from_nonzero(feats["text"]), 1)
    elif len({x.shape[1] for x in feats.values()}) == 1:  # aligned: one shared length
        if text_len is None:
            nz = np.stack([lengths_from_nonzero(x) for x in feats.values()]).max(axis=0)
            text_len = np.maximum(nz, 1)
        lengths = {m: text_len.copy() for m in MODALITIES}
    else:
        logger.info("%s [%s]: no length keys and unequal padded lengths; inferring lengths "
                    "from the last non-zero frame per modality", source, split)
        lengths = {m: np.maximum(lengths_from_nonzero(x), 1) for m, x in feats.items()}
        if text_len is not None:
            lengths["text"] = text_len
    extras: dict[str, np.ndarray] = {}
    for key, name in UNIMODAL_LABELS.items():
        if key in d:
            extras[name] = as_labels(d[key], n, source=source, split=split, key=key)
            if not np.all(np.isfinite(extras[name])):
                raise DataError(f"{source} [{split}]: {key!r} contains NaN or ±inf")
    ids = as_ids(d.get("id"), n, source=source, split=split)
    groups = groups_from_ids(ids) if "id" in d else None
    return MSASplit(features=feats, lengths=lengths, labels=labels, ids=ids, extras=extras,
                    groups=groups)


def from_object(obj: Any, *, source: str, name: str) -> MSADataset:
    """Build a dataset from an already (safely) unpickled MMSA object."""
    raw = get_splits(obj, source=source)
    splits = {s: _read_split(d, source=source, split=s) for s, d in raw.items()}
    sims = any(k in raw["train"] for k in UNIMODAL_LABELS) or all(
        float(np.abs(sp.labels).max()) <= 1.0 for sp in splits.values() if len(sp)
    )
    kind = "unaligned" if "audio_lengths" in raw["train"] else "aligned"
    notes = (f"MMSA feature pickle ({kind}); text = frozen BERT features; lengths: "
             + ("audio/vision from the file, " if kind == "unaligned" else "shared, ")
             + "text from the text_bert attention mask when present")
    return MSADataset(
        splits=splits,
        info=infer_info(splits, name=name, source=source,
                        score_range=(-1.0, 1.0) if sims else (-3.0, 3.0), notes=notes),
    )


def read_mmsa_pickle(path: str | os.PathLike, *, name: str | None = None) -> MSADataset:
    """Read an MMSA feature pickle (aligned, unaligned or SIMS layout) with the safe unpickler.

    Args:
        path: the ``.pkl`` file.
        name: dataset name; defaults to the file stem.

    Raises:
        DataError: unsafe/corrupt pickle, missing split or key, bad shapes, non-finite values.
    """
    return read_split_pickle(path, name=name, what="an MMSA feature pickle", build=from_object)
