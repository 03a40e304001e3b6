"""Reader for the real CMU-MOSI bc-LSTM release (``../shared/data/mosi_bclstm``; see its README).

One feature vector per utterance and modality (text 100-d, audio 73-d, vision 100-d), read as
sequences of length 1: (N, 1, D). Rows of ``{text,audio,video}_{train,test}0.csv`` are the
same utterance; the clip id of row *i* is ``transcripts.csv[text_{split}.csv[i][0]][0]``.

Split (the release's own, speaker-independent; the official MOSI folds leak labels through
these features and are never used):

- ``test`` = the release's 31 test videos (752 clips).
- ``valid`` = ``round(valid_fraction * 62)`` of the 62 train videos (9 at the default 0.15):
  the videos whose ``sha256(f"{seed}:{video_id}")`` hex digests sort first. Whole videos only,
  never utterances; deterministic and independent of NumPy's RNG. ``train`` = the other videos.

Labels (``labels="binary"``, the default; ``mosi_bclstm``): the release's own 0/1 labels as
native classes negative/positive (``label_kind="class"``) on all 2,199 clips, test = 752. Use
``task.kind=native``; its weighted F1 equals CorrKD's pos/neg weighted F1.

Labels (``labels="score"``; ``mosi_bclstm:score``): the continuous CMU-MOSI score in [-3, 3]
joined by clip id from ``../../labels/mosi_label.csv``, for regression / 7-class tasks. Four clips have no score there
(``2WGyTLYerpo_44`` in test, ``5W7Z1C_fDaE_24``, ``BioHAh1qJAQ_30``, ``lXPQBPVc5Cw_30`` in
train); they are **dropped** (a substitute score would corrupt MAE/Corr/Acc-7), so test has
751 clips from all 31 videos. Every joined score is checked against the release's binary label
(score >= 0 <=> 1).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from robustmsa.data.groups import groups_from_ids
from robustmsa.data.schema import MSADataset, MSASplit, infer_info
from robustmsa.errors import DataError

logger = logging.getLogger(__name__)

NAME = "mosi_bclstm"
MODALITY_FILES: dict[str, str] = {"text": "text", "audio": "audio", "vision": "video"}
TRANSCRIPTS = "transcripts.csv"
RELEASE_SPLITS: tuple[str, ...] = ("train", "test")


REQUIRED_FILES: tuple[str, ...] = (
    TRANSCRIPTS,
    *(f"text_{s}.csv" for s in RELEASE_SPLITS),
    *(f"{stem}_{s}0.csv" for stem in MODALITY_FILES.values() for s in RELEASE_SPLITS),
)


def detect(folder: Path) -> bool:
    """True if ``folder`` holds the bc-LSTM CSVs."""
    return all((folder / f).is_file() for f in
               (TRANSCRIPTS, "text_train.csv", "text_train0.csv", "audio_test0.csv"))


def video_id(clip_id: str) -> str:
    """``"03bSnISJMiM_10" -> "03bSnISJMiM"`` (clip ids are ``{video}_{clip}``)."""
    return clip_id.rsplit("_", 1)[0]


def _read_csv(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return [r for r in csv.reader(fh) if r]
    except FileNotFoundError:
        raise DataError(f"{path}: file not found (bc-LSTM release incomplete)") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: not a readable CSV ({e})") from None


def _read_matrix(path: Path) -> np.ndarray:
    rows = _read_csv(path)
    if not rows:
        raise DataError(f"{path}: empty CSV")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise DataError(f"{path}: row {i} has {len(r)} columns, row 0 has {width}")
    try:
        x = np.array(rows, dtype=np.float64)
    except ValueError as e:
        raise DataError(f"{path}: non-numeric value ({e})") from None
    if not np.all(np.isfinite(x)):
        r = int(np.argwhere(~np.isfinite(x))[0][0])
        raise DataError(f"{path}: NaN/±inf value (first in row {r})")
    return x


def read_transcripts(folder: str | os.PathLike) -> dict[str, str]:
    """Clip id -> upper-case transcript, from ``transcripts.csv`` (optional metadata)."""
    return {r[0]: r[1] for r in _read_csv(Path(folder) / TRANSCRIPTS)}


def read_scores(path: str | os.PathLike) -> dict[str, float]:
    """Clip id -> continuous CMU-MOSI score from ``mosi_label.csv`` (columns id,text,label,mode)."""
    p = Path(path)
    rows = _read_csv(p)
    if not rows or rows[0][:1] != ["id"] or "label" not in rows[0]:
        raise DataError(f"{p}: expected a header with columns 'id' and 'label'")
    col = rows[0].index("label")
    out: dict[str, float] = {}
    for i, r in enumerate(rows[1:], start=2):
        try:
            v = float(r[col])
        except (ValueError, IndexError):
            raise DataError(f"{p}: line {i}: field 'label' is not a number") from None
        if not np.isfinite(v):
            raise DataError(f"{p}: line {i}: field 'label' is NaN/inf")
        out[r[0]] = v
    return out


def select_valid_videos(train_videos: list[str], *, seed: int, fraction: float) -> list[str]:
    """The validation videos: the ``round(fraction * n)`` videos whose
    ``sha256(f"{seed}:{video}")`` sorts first (at least 1, at most n - 1), sorted by name."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"valid_fraction must be in (0, 1); got {fraction}")
    vids = sorted(set(train_videos))
    k = min(max(1, round(fraction * len(vids))), len(vids) - 1)
    order = sorted(vids, key=lambda v: hashlib.sha256(f"{seed}:{v}".encode()).hexdigest())
    return sorted(order[:k])


def _read_release_split(folder: Path, split: str, transcripts: list[list[str]]):
    feats: dict[str, np.ndarray] = {}
    binary = None
    for m, stem in MODALITY_FILES.items():
        path = folder / f"{stem}_{split}0.csv"
        x = _read_matrix(path)
        lab = x[:, -1]
        if not np.isin(lab, (0.0, 1.0)).all():
            raise DataError(f"{path}: last column (binary label) has values other than 0/1")
        if binary is None:
            binary = lab
        elif lab.shape != binary.shape or (lab != binary).any():
            raise DataError(f"{path}: rows or labels disagree with text_{split}0.csv")
        feats[m] = x[:, :-1].astype(np.float32)[:, None, :]
    index_path = folder / f"text_{split}.csv"
    idx = _read_matrix(index_path)[:, 0]
    if idx.shape[0] != binary.shape[0]:
        raise DataError(f"{index_path}: {idx.shape[0]} rows, the feature files have "
                        f"{binary.shape[0]}")
    if (idx < 0).any() or (idx >= len(transcripts)).any() or (idx != np.round(idx)).any():
        raise DataError(f"{index_path}: column 0 is not a row index into {TRANSCRIPTS}")
    rows = [transcripts[int(i)] for i in idx]
    ids = np.array([r[0] for r in rows])
    tr_lab = np.empty(len(rows))
    for j, (i, r) in enumerate(zip(idx, rows, strict=True)):
        try:
            tr_lab[j] = float(r[3]) if len(r) > 3 else -1.0
        except ValueError:
            raise DataError(f"{folder / TRANSCRIPTS}: line {int(i) + 1} (clip {r[0]}): field 4 "
                            f"(binary label) is not a number: {r[3]!r}") from None
    if (tr_lab != binary).any():
        bad = ids[np.argmax(tr_lab != binary)]
        raise DataError(f"{folder / TRANSCRIPTS}: label of clip {bad} disagrees with "
                        f"{split} feature files")
    return feats, binary.astype(np.int64), ids


def read_mosi_bclstm(
    folder: str | os.PathLike,
    *,
    seed: int = 0,
    valid_fraction: float = 0.15,
    labels: str = "binary",
    labels_csv: str | os.PathLike | None = None,
) -> MSADataset:
    """Read the bc-LSTM CMU-MOSI release with its speaker-independent split (module docstring).

    Args:
        folder: the ``mosi_bclstm`` folder.
        seed: picks the validation videos (see `select_valid_videos`).
        valid_fraction: fraction of the 62 train videos moved to ``valid``.
        labels: ``"score"`` (continuous, clips without a score dropped) or ``"binary"``.
        labels_csv: the continuous-score file; default ``folder/../../labels/mosi_label.csv``.

    Raises:
        DataError: missing/malformed files, inconsistent rows or labels, no labels file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    if labels not in ("score", "binary"):
        raise DataError(f"{root}: labels must be 'score' or 'binary'; got {labels!r}")
    transcripts = _read_csv(root / TRANSCRIPTS)
    release = {s: _read_release_split(root, s, transcripts) for s in RELEASE_SPLITS}
    train_vids = [video_id(c) for c in release["train"][2]]
    valid_vids = select_valid_videos(train_vids, seed=seed, fraction=valid_fraction)
    in_valid = np.isin(np.array(train_vids), valid_vids)
    parts = {"train": ("train", ~in_valid), "valid": ("train", in_valid),
             "test": ("test", np.ones(len(release["test"][2]), dtype=bool))}
    scores: dict[str, float] = {}
    if labels == "score":
        lp = Path(labels_csv) if labels_csv is not None else root.parent.parent / "labels" / \
            "mosi_label.csv"
        if not lp.is_file():
            raise DataError(f"{lp}: continuous MOSI labels not found (needed for "
                            "labels='score'; pass labels_csv=... or use labels='binary')")
        scores = read_scores(lp)
    splits: dict[str, MSASplit] = {}
    dropped: list[str] = []
    for name, (src, rows) in parts.items():
        feats, binary, ids = release[src]
        if labels == "score":
            has = np.array([c in scores for c in ids])
            dropped += [str(c) for c in ids[rows & ~has]]
            rows = rows & has
            y = np.array([scores.get(c, 0.0) for c in ids], dtype=np.float32)
            bad = rows & ((y >= 0).astype(np.int64) != binary)
            if bad.any():
                c = ids[np.argmax(bad)]
                raise DataError(f"{lp}: score of clip {c} ({scores[c]}) disagrees with the "
                                f"release's binary label in {root}")
        else:
            y = binary.copy()
        sel = np.flatnonzero(rows)
        splits[name] = MSASplit(
            features={m: x[sel] for m, x in feats.items()},
            lengths={m: np.ones(len(sel), dtype=np.int64) for m in feats},
            labels=y[sel], ids=ids[sel], groups=groups_from_ids(ids[sel]),
        )
    if dropped:
        logger.info("%s: dropped %d clips without a continuous score: %s",
                    root, len(dropped), ", ".join(sorted(dropped)))
    notes = (
        "CMU-MOSI bc-LSTM release, utterance-level features as length-1 sequences. Split: the "
        "release's speaker-independent video split; test = its 31 test videos; valid = "
        f"{len(valid_vids)} of its 62 train videos (sha256('{seed}:<video>') order, "
        f"valid_fraction={valid_fraction}): {', '.join(valid_vids)}. Labels: {labels}"
        + (f"; {len(dropped)} clips without a continuous score dropped: "
           f"{', '.join(sorted(dropped))}" if labels == "score" else "")
    )
    info = infer_info(
        splits, name=NAME, source=str(root),
        label_kind="score" if labels == "score" else "class",
        class_names=() if labels == "score" else ("negative", "positive"),
        notes=notes,
    )
    return MSADataset(splits=splits, info=info)
