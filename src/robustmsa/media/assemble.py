"""Padding per-clip sequences into a dataset and writing it atomically with its extractors.

Padding length per modality (``pad``):

* ``"mean3std"`` (default, as MMSA-FET): ``ceil(mean + 3 * std)`` of the lengths of the clips
  where the modality is present, capped at the maximum; longer sequences are truncated;
* ``"max"``: the longest sequence (nothing truncated);

``max_len`` (modality -> T) overrides either. Missing modalities get length 0 and zero rows.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robustmsa.data.schema import MSADataset, MSASplit, infer_info, save_dataset
from robustmsa.errors import ConfigError, DataError
from robustmsa.fileio import atomic_write
from robustmsa.media.provenance import SIDECAR_FIELD, notes_with_extractors

PAD_POLICIES: tuple[str, ...] = ("mean3std", "max")


@dataclass
class Sample:
    """One extracted clip ready to be padded: id, label, split and (T, D) features."""

    id: str
    label: float
    split: str
    features: dict[str, np.ndarray]


def pad_length(lengths: Sequence[int], policy: str) -> int:
    """Padded length of one modality under ``policy`` (at least 1)."""
    if policy not in PAD_POLICIES:
        raise ConfigError(f"pad policy {policy!r} is not one of {', '.join(PAD_POLICIES)}")
    ln = np.asarray([x for x in lengths if x > 0], dtype=np.float64)
    if ln.size == 0:
        return 1
    if policy == "max":
        return int(ln.max())
    return max(1, min(int(ln.max()), int(math.ceil(ln.mean() + 3 * ln.std()))))


def build_dataset(
    samples: Sequence[Sample],
    dims: Mapping[str, int],
    *,
    name: str,
    source: str,
    pad: str = "mean3std",
    max_len: Mapping[str, int] | None = None,
    notes: str = "",
) -> MSADataset:
    """Pad ``samples`` into train/valid/test `MSASplit` arrays (float32, zero padding).

    The samples' feature arrays are released (``features`` set to ``{}``) once copied, so the
    per-clip arrays and the padded arrays are not all held in memory at the same time.
    """
    if not samples:
        raise DataError(f"{source}: no clip could be extracted; nothing to write")
    max_len = dict(max_len or {})
    bad = sorted(set(max_len) - set(dims))
    if bad:
        raise ConfigError(f"max_len names modalities not extracted: {', '.join(bad)}")
    seq = {
        m: int(max_len[m])
        if m in max_len
        else pad_length([s.features[m].shape[0] for s in samples], pad)
        for m in dims
    }
    for m, t in seq.items():
        if t < 1:
            raise ConfigError(f"max_len for {m} must be >= 1; got {t}")
    splits: dict[str, MSASplit] = {}
    for split in ("train", "valid", "test"):
        rows = [s for s in samples if s.split == split]
        if not rows:
            continue
        feats, lens = {}, {}
        for m, d in dims.items():
            x = np.zeros((len(rows), seq[m], d), dtype=np.float32)
            ln = np.zeros(len(rows), dtype=np.int64)
            for i, s in enumerate(rows):
                f = s.features[m][: seq[m]]
                x[i, : f.shape[0]] = f
                ln[i] = f.shape[0]
            feats[m], lens[m] = x, ln
        for s in rows:  # bound peak memory: the padded copy replaces the per-clip arrays
            s.features = {}
        splits[split] = MSASplit(
            features=feats,
            lengths=lens,
            labels=np.asarray([s.label for s in rows], dtype=np.float32),
            ids=np.asarray([s.id for s in rows]).astype(str),
        )
    return MSADataset(splits=splits, info=infer_info(splits, name=name, source=source, notes=notes))


def write_dataset(ds: MSADataset, out: str | os.PathLike, extractors: dict[str, Any]) -> Path:
    """Save ``ds`` to ``out`` (.npz + .json) with the extractor configuration, atomically.

    The configuration goes into ``info.notes`` (marker line) and the sidecar's top-level
    ``"extractors"`` field. Both files are first written under temporary names in the output
    folder and then renamed, so an interrupted run never leaves a half-written dataset.
    """
    final = Path(out)
    if final.suffix != ".npz":
        final = final.with_suffix(".npz")
    ds.info.notes = notes_with_extractors(ds.info.notes, extractors)
    tmp = final.with_name(f".{final.stem}.tmp{os.getpid()}.npz")
    try:
        save_dataset(ds, tmp)
        meta = json.loads(tmp.with_suffix(".json").read_text())
        meta[SIDECAR_FIELD] = extractors
        atomic_write(tmp.with_suffix(".json"), json.dumps(meta, indent=2).encode())
        os.replace(tmp, final)
        os.replace(tmp.with_suffix(".json"), final.with_suffix(".json"))
    finally:
        for p in (tmp, tmp.with_suffix(".json")):
            if p.exists():
                p.unlink()
    return final
