"""Predictions for many raw clips with models loaded once, and the one-clip shortcut.

* `find_media(DIR)`: the clips of a folder in the MMSA-FET layout
  ``DIR/Raw/{video_id}/{clip_id}.mp4`` (also ``DIR/{video_id}/{clip_id}.mp4``; id
  ``{video_id}_{clip_id}``) and/or flat ``DIR/{video_id}_{clip}.mp4`` (id = the file stem).
* `read_transcripts(FILE.csv)`: id -> transcript from a CSV with ``id, text`` or
  ``video_id, clip_id, text`` columns (an MMSA ``label.csv`` works as is).
* `ClipPredictor`: loads the checkpoint and the feature extractors once; ``predict(...)`` gives
  one `row` per clip. `predict_dir` runs it over a folder with a progress bar, never stops at a
  failing clip (the row carries the error) and writes ``.csv`` or ``.jsonl``.
* `predict_clip(checkpoint, video=..., audio=..., transcript=...)`: the same row for one clip.

Each row: ``id, file, score, polarity, neutral_band, used, missing, reason, model_split, error,
seconds`` (``used`` / ``missing``: modalities; ``reason``: why each missing one is missing;
``model_split``: ``train``/``valid`` when the model card lists the id there; ``score`` and
``polarity`` are empty when no modality of the model was usable). Everything goes
through `robustmsa.media.predict.predict_media`, so a single clip and a batch see the same
preparation.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robustmsa.errors import CheckpointError, ConfigError, DataError, RobustMSAError
from robustmsa.media.labels import AUDIO_EXTENSIONS, CLIP_EXTENSIONS

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("id", "file", "score", "polarity", "neutral_band", "used", "missing",
                            "reason", "model_split", "error", "seconds")


@dataclass(frozen=True)
class MediaItem:
    """One clip file of a folder and its id."""

    id: str
    path: Path

    @property
    def is_audio(self) -> bool:
        return self.path.suffix.lower() in AUDIO_EXTENSIONS


def find_media(root: str | os.PathLike) -> list[MediaItem]:
    """The clips under ``root`` (see the module doc), sorted by id; ids must be unique."""
    base = Path(root)
    if not base.is_dir():
        raise DataError(f"{base}: media folder not found")
    found: dict[str, Path] = {}

    def add(cid: str, p: Path) -> None:
        if cid in found and found[cid] != p:
            raise DataError(f"{base}: clip id {cid!r} names two files: {found[cid]} and {p}")
        found[cid] = p

    for p in sorted(base.iterdir()):
        if p.is_file() and p.suffix.lower() in CLIP_EXTENSIONS:
            add(p.stem, p)
    for parent in (base / "Raw", base):
        if not parent.is_dir():
            continue
        for vdir in sorted(d for d in parent.iterdir() if d.is_dir() and d.name != "Raw"):
            for p in sorted(vdir.iterdir()):
                if p.is_file() and p.suffix.lower() in CLIP_EXTENSIONS:
                    add(f"{vdir.name}_{p.stem}", p)
    if not found:
        raise DataError(f"{base}: no clips ({', '.join(CLIP_EXTENSIONS)}) in the folder, in "
                        f"{base}/VIDEO_ID/ or in {base}/Raw/VIDEO_ID/")
    return [MediaItem(k, found[k]) for k in sorted(found)]


def read_transcripts(path: str | os.PathLike) -> dict[str, str]:
    """id -> transcript from a CSV with ``id,text`` or ``video_id,clip_id,text`` columns."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot read the transcripts ({e})") from None
    reader = csv.DictReader(io.StringIO(text))
    cols = set(reader.fieldnames or [])
    if "text" not in cols or not ("id" in cols or {"video_id", "clip_id"} <= cols):
        raise DataError(f"{p}: needs columns id (or video_id, clip_id) and text; found "
                        f"{', '.join(reader.fieldnames or []) or 'none'}")
    out: dict[str, str] = {}
    for r in reader:
        cid = (f"{str(r['video_id']).strip()}_{str(r['clip_id']).strip()}"
               if {"video_id", "clip_id"} <= cols else str(r["id"]).strip())
        out[cid] = (r["text"] or "").strip()
    return out


def _row(cid: str, file: str | None, res: dict[str, Any] | None, error: str | None,
         seconds: float) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(id=cid, file=file, error=error, seconds=round(seconds, 3), used=[], missing=[],
               reason={})
    if res is not None:
        mods = res["modalities"]
        used = [m for m, v in mods.items() if v["used"]]
        row.update(
            # no usable modality: the model would only output its prior, so no score
            score=round(float(res["score"]), 4) if used else None,
            polarity=res["polarity"] if used else None,
            neutral_band=res["neutral_band"],
            used=used,
            missing=[m for m, v in mods.items() if v["present"] is False],
            reason={m: v["reason"] for m, v in mods.items() if v["present"] is False},
            model_split=res.get("model_split"),
        )
    return row


class ClipPredictor:
    """A checkpoint and its feature extractors, loaded once, for many clips.

    Example:
        >>> cp = ClipPredictor("runs/clips/best.pt")
        >>> cp.predict(video="clip.mp4", transcript="it was great")["score"]
    """

    def __init__(self, checkpoint: str | os.PathLike, *, text_model: str | None = None,
                 pipeline: Any = None, band: float | None = None) -> None:
        from robustmsa.media.predict import load_predictor, pipeline_for

        self.checkpoint = str(checkpoint)
        self.band = band
        self.predictor = load_predictor(self.checkpoint)
        # extractors the model was trained with; their models load on the first clip
        self.pipeline = pipeline or pipeline_for(self.checkpoint, self.predictor, text_model)

    def predict_full(self, *, video=None, audio=None, transcript=None, timings=None,
                     clip_id: str | None = None) -> dict[str, Any]:
        """`predict_media`'s full result (features not included)."""
        from robustmsa.media.predict import predict_media

        return predict_media(self.checkpoint, video=video, audio=audio, transcript=transcript,
                             timings=timings, pipeline=self.pipeline, predictor=self.predictor,
                             clip_id=clip_id, band=self.band)

    def predict(self, *, video=None, audio=None, transcript=None, timings=None,
                clip_id: str | None = None) -> dict[str, Any]:
        """One row (see the module doc) for one clip; input errors raise. ``seconds`` counts
        extraction and the model, not the one-time model loading."""
        self.pipeline.load()
        t = time.perf_counter()
        res = self.predict_full(video=video, audio=audio, transcript=transcript,
                                timings=timings, clip_id=clip_id)
        src = video if video is not None else audio
        return _row(res["clip_id"] or "input", str(src) if src is not None else None, res, None,
                    time.perf_counter() - t)

    def close(self) -> None:
        self.pipeline.close()


def predict_clip(checkpoint: str | os.PathLike, video: str | os.PathLike | None = None,
                 audio: str | os.PathLike | None = None, transcript: str | None = None, *,
                 clip_id: str | None = None, band: float | None = None,
                 text_model: str | None = None) -> dict[str, Any]:
    """The row of one clip: ``id, file, score, polarity, neutral_band, used, missing, reason,
    model_split, error, seconds`` (models load on every call: use `ClipPredictor` for many)."""
    cp = ClipPredictor(checkpoint, text_model=text_model, band=band)
    try:
        return cp.predict(video=video, audio=audio, transcript=transcript, clip_id=clip_id)
    finally:
        cp.close()


def predict_dir(
    checkpoint: str | os.PathLike,
    media_dir: str | os.PathLike,
    *,
    transcripts: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    text_model: str | None = None,
    band: float | None = None,
    progress: bool = True,
    predictor: ClipPredictor | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """A row for every clip of ``media_dir``; a failing clip gets its ``error`` and the run goes
    on. The transcript of a clip is its entry in ``transcripts``, else a ``{stem}.txt`` next to
    the file, else none (text missing). ``out`` (``.csv`` or ``.jsonl``) is written at the end."""
    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    if out is not None and Path(out).suffix.lower() not in (".csv", ".jsonl"):
        raise ConfigError(f"--out {out}: use a .csv or .jsonl file")
    items = find_media(media_dir)
    texts = read_transcripts(transcripts) if transcripts is not None else {}
    cp = predictor or ClipPredictor(checkpoint, text_model=text_model, band=band)
    if cp.pipeline.align == "words":
        raise ConfigError(f"{checkpoint}: the model was trained on word-aligned features, which "
                          "need word timings per clip; --media-dir does not read timings (predict "
                          "one clip with --timings FILE)")
    rows: list[dict[str, Any]] = []
    n_failed = 0
    cp.pipeline.load()  # before the first clip, so per-clip seconds are extraction + model
    with logging_redirect_tqdm():
        bar = tqdm(items, desc="predict", unit="clip", disable=not progress)
        for it in bar:
            t = time.perf_counter()
            text = texts.get(it.id)
            side = it.path.with_suffix(".txt")
            if text is None and side.is_file():
                text = side.read_text(encoding="utf-8", errors="replace").strip()
            kw = {"audio": it.path} if it.is_audio else {"video": it.path}
            try:
                res = cp.predict_full(transcript=text or None, clip_id=it.id, **kw)
                row = _row(it.id, str(it.path), res, None, time.perf_counter() - t)
            except CheckpointError:
                raise  # a model/extractor mismatch fails every clip: stop at once
            except RobustMSAError as e:
                row = _row(it.id, str(it.path), None, str(e), time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001 - one bad clip must not stop the batch
                row = _row(it.id, str(it.path), None, f"{type(e).__name__}: {e}",
                           time.perf_counter() - t)
            if row["error"]:
                n_failed += 1
                log.warning("%s failed: %s", it.id, row["error"])
                bar.set_postfix(failed=n_failed)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    if predictor is None:
        cp.close()
    if out is not None:
        write_rows(rows, out)
    return rows


def _cell(v: Any) -> Any:
    if isinstance(v, list):
        return "+".join(v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {x}" for k, x in v.items())
    return "" if v is None else v


def write_rows(rows: list[dict[str, Any]], out: str | os.PathLike) -> Path:
    """``rows`` as ``.csv`` (lists joined by ``+``, reasons ``mod: why; ...``) or ``.jsonl``,
    written atomically."""
    from robustmsa.fileio import atomic_write

    p = Path(out)
    if p.suffix.lower() == ".jsonl":
        data = "".join(json.dumps(r) + "\n" for r in rows)
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in COLUMNS})
        data = buf.getvalue()
    return atomic_write(p, data.encode("utf-8"))
