"""Reader for the MFN HDF5 releases (``ict_mmmo_mfn``, ``pom_mfn``, ``youtube_mfn``; see each
folder's README) and any folder with the same layout.

Layout: one HDF5 file per (modality, split), each holding one dataset ``d1``:
``{text_SPLIT_emb,audio_SPLIT,video_SPLIT}.h5`` with (N, T, D) features and ``y_SPLIT.h5`` with
the labels, SPLIT in train / valid / test; row *i* of every file of a split is the same sample.
Read with h5py (no pickle anywhere).

- **Frames**: a step is missing iff all its features are zero. Zero steps occur at the start,
  the end and in the middle, so lengths cannot come from a padding side: ``lengths`` is the
  span end (last non-zero step + 1) and ``frame_valid`` the explicit non-zero mask (stored only
  for modalities whose valid steps are not a prefix in some sample).
- **Natural absence**: a modality whose whole sequence is zero for a sample has length 0 and is
  not ``present``; a modality without a file for a split (ICT-MMMO and YouTube train text, all
  POM text) is zero-filled with length 0 for every sample of that split. A modality with no
  file in any split is not part of the dataset (POM: audio + vision only).
- **Ids**: the release has none; ids are generated as ``"{dataset}:{split}:{row}"`` (stable:
  they depend only on the file order). **Groups** (`MSASplit.groups`): ICT-MMMO and POM have one
  sample per video, so each sample is its own group; YouTube has several utterances per video
  but no utterance -> video mapping, so it has no groups (grouped CV is refused there); other
  folders: none.
- **Labels** by dataset: ``ict_mmmo_mfn`` the 1-5 score (``label_kind="score"``, one target
  ``score``; regress it with ``task.kind=multi_regression``) or, with the variant
  ``ict_mmmo_mfn:binary``, the authors' binary rule **positive iff score > 3.5** as native
  classes; ``pom_mfn`` all 17 columns as a multi-target regression (``label_kind="multi"``,
  targets named by position ``col00`` ... ``col16``: the release does not document them);
  ``youtube_mfn`` the one-hot 3 classes negative / neutral / positive. Another folder: (N,)
  labels are a score, one-hot (N, K) labels are classes ``class0`` ..., other (N, K) labels a
  multi-target regression.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from robustmsa.data.schema import SPLITS, MSADataset, MSASplit, infer_info
from robustmsa.errors import DataError

KNOWN = ("ict_mmmo_mfn", "pom_mfn", "youtube_mfn")
MODALITY_FILES: dict[str, tuple[str, ...]] = {
    "text": ("text_{split}_emb.h5", "text_{split}.h5"),
    "audio": ("audio_{split}.h5",),
    "vision": ("video_{split}.h5", "vision_{split}.h5"),
}
#: label files every MFN-layout folder has (a folder with some of them is named in the error)
REQUIRED_FILES: tuple[str, ...] = tuple(f"y_{s}.h5" for s in SPLITS)
ICT_MMMO_THRESHOLD = 3.5
YOUTUBE_CLASSES = ("negative", "neutral", "positive")
SOURCES = {
    "ict_mmmo_mfn": "pliang279/MFN new_data/mmmo/ (commit ff9c4fa6)",
    "pom_mfn": "pliang279/MFN new_data/pom/ (commit 900ae744)",
    "youtube_mfn": "pliang279/MFN new_data/youtube/ (commit a11cdbf8)",
}


def detect(folder: Path) -> bool:
    """True if ``folder`` holds ``y_train.h5``, ``y_test.h5`` and at least one feature file."""
    if not ((folder / "y_train.h5").is_file() and (folder / "y_test.h5").is_file()):
        return False
    return any(_modality_file(folder, m, s) is not None for m in MODALITY_FILES for s in SPLITS)


def _modality_file(folder: Path, m: str, split: str) -> Path | None:
    for pat in MODALITY_FILES[m]:
        p = folder / pat.format(split=split)
        if p.is_file():
            return p
    return None


def read_h5(path: Path) -> np.ndarray:
    """The ``d1`` dataset of an HDF5 file as a NumPy array (`DataError` naming the file)."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            if "d1" not in fh:
                raise DataError(f"{path}: no dataset 'd1' (keys: {', '.join(fh.keys()) or 'none'})")
            x = fh["d1"][()]
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 file ({e})") from None
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: dataset 'd1' is not numeric (dtype {x.dtype})")
    if not np.all(np.isfinite(x)):
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise DataError(f"{path}: dataset 'd1' contains NaN/±inf (first in row {row})")
    return x


def frames_from_nonzero(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) span ends (last non-zero step + 1, 0 for an all-zero sample) and the (N, T) mask
    of non-zero steps."""
    nz = np.any(x != 0, axis=2)  # (N, T)
    span = np.where(nz.any(1), x.shape[1] - np.argmax(nz[:, ::-1], axis=1), 0)
    return span.astype(np.int64), nz


def _labels(kind: str, y: np.ndarray, path: Path, variant: str) -> np.ndarray:
    if kind == "ict_mmmo_mfn":
        if y.ndim != 1:
            raise DataError(f"{path}: expected one score per video, got shape {y.shape}")
        return (y > ICT_MMMO_THRESHOLD).astype(np.int64) if variant == "binary" \
            else y.astype(np.float32)
    if kind == "pom_mfn":
        if y.ndim != 2:
            raise DataError(f"{path}: expected (N, 17) trait scores, got shape {y.shape}")
        return y.astype(np.float32)
    if kind == "youtube_mfn" or variant == "classes":
        if y.ndim != 2 or not np.isin(y, (0, 1)).all() or not (y.sum(1) == 1).all():
            raise DataError(f"{path}: expected one-hot class rows, got shape {y.shape}")
        return y.argmax(1).astype(np.int64)
    y = y.reshape(len(y), -1).astype(np.float32)
    return y[:, 0] if kind == "score" and y.shape[1] == 1 else y  # one score: (N,)


def _generic_kind(ys: dict[str, np.ndarray]) -> str:
    y = np.concatenate([v.reshape(len(v), -1) for v in ys.values()])
    if y.shape[1] == 1:
        return "score"
    if np.isin(y, (0, 1)).all() and (y.sum(1) == 1).all():
        return "classes"
    return "multi"


def read_mfn(folder: str | os.PathLike, *, kind: str | None = None,
             variant: str | None = None) -> MSADataset:
    """Read an MFN-layout folder (module docstring).

    Args:
        folder: the dataset folder.
        kind: ``ict_mmmo_mfn`` / ``pom_mfn`` / ``youtube_mfn`` for those releases' label rules;
            None (another folder): rules inferred from the label shapes.
        variant: ``"binary"`` for ``ict_mmmo_mfn`` (score > 3.5); None otherwise.

    Raises:
        DataError: missing split / label file, unreadable HDF5, row counts or feature widths
            that disagree, NaN/inf, unknown variant.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    allowed = {"ict_mmmo_mfn": (None, "score", "binary")}.get(kind or "", (None,))
    if variant not in allowed:
        raise DataError(f"{root}: unknown variant {variant!r}"
                        + (f"; valid: {', '.join(v for v in allowed if v)}" if len(allowed) > 1
                           else " (this dataset has none)"))
    name = kind or root.name
    raw_y = {}
    for s in SPLITS:
        p = root / f"y_{s}.h5"
        if not p.is_file():
            raise DataError(f"{p}: label file not found (an MFN-layout folder needs y_train.h5, "
                            "y_valid.h5 and y_test.h5)")
        raw_y[s] = read_h5(p)
    generic = _generic_kind(raw_y) if kind is None else ""
    feats: dict[str, dict[str, np.ndarray]] = {s: {} for s in SPLITS}
    shapes: dict[str, tuple[int, int, str]] = {}
    for m in MODALITY_FILES:
        for s in SPLITS:
            p = _modality_file(root, m, s)
            if p is None:
                continue
            x = read_h5(p)
            if x.ndim != 3:
                raise DataError(f"{p}: expected (N, T, D) features, got shape {x.shape}")
            if x.shape[0] != len(raw_y[s]):
                raise DataError(f"{p}: {x.shape[0]} rows but y_{s}.h5 has {len(raw_y[s])}")
            if m in shapes and shapes[m][:2] != x.shape[1:]:
                t, d, first = shapes[m]
                raise DataError(f"{p}: shape (T, D) = {x.shape[1:]} but {first} has {(t, d)}")
            shapes.setdefault(m, (x.shape[1], x.shape[2], p.name))
            feats[s][m] = x.astype(np.float32)
    if not shapes:
        raise DataError(f"{root}: no feature files (text_*_emb.h5, audio_*.h5, video_*.h5)")
    splits: dict[str, MSASplit] = {}
    absent: list[str] = []
    for s in SPLITS:
        n = len(raw_y[s])
        x_s, len_s, valid_s = {}, {}, {}
        for m, (t, d, _) in shapes.items():
            x = feats[s].get(m)
            if x is None:
                absent.append(f"{m} in {s}")
                x = np.zeros((n, t, d), np.float32)
            span, nz = frames_from_nonzero(x)
            x_s[m], len_s[m] = x, span
            if not np.array_equal(nz, np.arange(t)[None, :] < span[:, None]):
                valid_s[m] = nz
        ids = np.array([f"{name}:{s}:{i}" for i in range(n)])
        groups = ids.copy() if kind in ("ict_mmmo_mfn", "pom_mfn") else None
        splits[s] = MSASplit(features=x_s, lengths=len_s,
                             labels=_labels(kind or generic, raw_y[s], root / f"y_{s}.h5",
                                            variant or generic),
                             ids=ids, groups=groups, frame_valid=valid_s)
    label_kind, class_names, target_names, lo_hi = _label_info(kind, variant, generic, raw_y)
    notes = (
        f"MFN HDF5 release{' ' + SOURCES[kind] if kind in SOURCES else ''}: all-zero steps are "
        "missing frames (explicit frame masks), all-zero sequences naturally absent modalities"
        + (f"; no file, so absent for the whole split: {', '.join(absent)}" if absent else "")
        + f". Ids generated as '{name}:<split>:<row>' (the release has none). Groups: "
        + ("one video per sample" if kind in ("ict_mmmo_mfn", "pom_mfn") else "none (unknown)")
        + ". Labels: " + {
            "ict_mmmo_mfn": "binary, positive iff score > 3.5 (the authors' rule)"
            if variant == "binary" else "the 1-5 sentiment score",
            "pom_mfn": "17 trait scores 1-7, column meanings undocumented (col00..col16)",
            "youtube_mfn": "3 classes from the one-hot columns (negative, neutral, positive)",
        }.get(kind or "", f"inferred from the label shapes ({generic})")
    )
    info = infer_info(splits, name=name if variant in (None, "score") else f"{name}:{variant}",
                      source=str(root), label_kind=label_kind, score_range=lo_hi,
                      class_names=class_names, notes=notes, target_names=target_names)
    return MSADataset(splits=splits, info=info)


def _label_info(kind: str | None, variant: str | None, generic: str,
                raw_y: dict[str, np.ndarray]):
    y = np.concatenate([v.reshape(len(v), -1) for v in raw_y.values()])
    lo_hi = (float(y.min()), float(y.max()))
    if kind == "ict_mmmo_mfn":
        if variant == "binary":
            return "class", ("negative", "positive"), (), (-3.0, 3.0)
        return "score", (), ("score",), (1.0, 5.0)
    if kind == "pom_mfn":
        return "multi", (), tuple(f"col{i:02d}" for i in range(y.shape[1])), (1.0, 7.0)
    if kind == "youtube_mfn":
        return "class", YOUTUBE_CLASSES, (), (-3.0, 3.0)
    if generic == "classes":
        return "class", tuple(f"class{i}" for i in range(y.shape[1])), (), (-3.0, 3.0)
    if generic == "multi":
        return "multi", (), tuple(f"col{i:02d}" for i in range(y.shape[1])), lo_hi
    return "score", (), ("score",), lo_hi
