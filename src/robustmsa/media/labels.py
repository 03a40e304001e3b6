"""Reading MMSA-FET style ``label.csv`` files and finding the clip files they name.

Two column layouts are accepted:

* MMSA-FET / MOSEI: ``video_id, clip_id, text, label, mode``;
* MOSI (MMCPanda): ``id, text, label, mode`` with ``id = {video_id}_{clip_id}``.

``mode`` is mapped to the project's split names: ``train`` -> train, ``dev``/``valid``/``val``
-> valid, ``test`` -> test. Clips are looked up at ``{root}/Raw/{video_id}/{clip_id}.{ext}``
(MMSA-FET), then ``{root}/{video_id}/{clip_id}.{ext}`` and then the flat
``{root}/{video_id}_{clip_id}.{ext}`` (how ``../shared/media`` ships its clips) for the
extensions in `CLIP_EXTENSIONS`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from robustmsa.errors import DataError

SPLIT_NAMES: dict[str, str] = {
    "train": "train",
    "dev": "valid",
    "valid": "valid",
    "val": "valid",
    "validation": "valid",
    "test": "test",
}
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".avi", ".mov", ".webm")
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".mp3", ".m4a", ".ogg")
CLIP_EXTENSIONS: tuple[str, ...] = VIDEO_EXTENSIONS + AUDIO_EXTENSIONS


@dataclass(frozen=True)
class LabelRow:
    """One clip of a label file.

    Attributes:
        id: sample id (``{video_id}_{clip_id}``, or the ``id`` column).
        video_id, clip_id: parts used to find the media file.
        text: transcript.
        label: sentiment score.
        split: ``train`` / ``valid`` / ``test``.
        line: line number in the file (for messages).
    """

    id: str
    video_id: str
    clip_id: str
    text: str
    label: float
    split: str
    line: int


def read_label_csv(path: str | os.PathLike, *, limit: int | None = None) -> list[LabelRow]:
    """Rows of ``path`` (see module doc), optionally the first ``limit`` rows of each split.

    Raises:
        DataError: missing file or column, bad label, unknown mode or duplicated id (the message
            names file and line).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    try:
        fh = p.open(newline="", encoding="utf-8")
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e})") from None
    rows: list[LabelRow] = []
    per_split: dict[str, int] = {}
    seen: dict[str, int] = {}
    with fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        need = {"text", "label", "mode"}
        if not need <= cols or not ({"video_id", "clip_id"} <= cols or "id" in cols):
            raise DataError(
                f"{p}: needs columns video_id, clip_id (or id), text, label, mode; "
                f"found {', '.join(reader.fieldnames or []) or 'none'}"
            )
        for r in reader:
            line = reader.line_num
            if "video_id" in cols and "clip_id" in cols:
                vid, clip = str(r["video_id"]).strip(), str(r["clip_id"]).strip()
                sid = f"{vid}_{clip}"
            else:
                sid = str(r["id"]).strip()
                vid, _, clip = sid.rpartition("_")
                if not vid:
                    vid, clip = sid, ""
            mode = str(r["mode"]).strip().lower()
            if mode not in SPLIT_NAMES:
                raise DataError(
                    f"{p}:{line}: mode {r['mode']!r} is not one of {', '.join(SPLIT_NAMES)}"
                )
            try:
                label = float(r["label"])
            except (TypeError, ValueError):
                raise DataError(f"{p}:{line}: label {r['label']!r} is not a number") from None
            if sid in seen:
                raise DataError(f"{p}:{line}: id {sid!r} repeats line {seen[sid]}")
            seen[sid] = line
            split = SPLIT_NAMES[mode]
            if limit is not None and per_split.get(split, 0) >= limit:
                continue
            per_split[split] = per_split.get(split, 0) + 1
            rows.append(LabelRow(sid, vid, clip, r["text"] or "", label, split, line))
    if not rows:
        raise DataError(f"{p}: no rows")
    return rows


def find_clip(
    root: str | os.PathLike, row: LabelRow, extensions: Sequence[str] = CLIP_EXTENSIONS
) -> Path | None:
    """The media file of ``row`` under ``root``: ``Raw/{vid}/{clip}.ext``, ``{vid}/{clip}.ext``
    or ``{vid}_{clip}.ext`` (flat folder), first found wins."""
    base = Path(root)
    candidates = [base / "Raw" / row.video_id / row.clip_id, base / row.video_id / row.clip_id]
    candidates.append(base / row.id)  # flat layout: {video_id}_{clip_id}.ext
    for stem in candidates:
        for ext in extensions:
            f = stem.with_name(stem.name + ext)
            if f.is_file():
                return f
    return None


def is_audio_only(path: Path) -> bool:
    """Whether ``path`` has an audio-file extension (then it is passed as audio, not video)."""
    return path.suffix.lower() in AUDIO_EXTENSIONS
