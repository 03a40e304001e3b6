"""Build a robustmsa dataset (.npz + .json) from raw clips or from transcripts only.

* `extract_dataset`: a folder of clips + an MMSA-FET ``label.csv`` -> text/audio/vision dataset.
  Resumable: each clip's result is cached atomically in a work directory (default
  ``OUT.parts/``), so an interrupted run redoes only the clips not yet cached. A clip that fails
  (missing or corrupt file, decoder error) is logged, written to ``failures.jsonl`` with the
  reason, and skipped.
* `extract_text_dataset`: transcripts of a label file -> text-only dataset with the real labels
  and official splits (e.g. MOSI / MOSEI from ``../shared/labels``), encoded in batches.

Both write the final files atomically with the extractor configuration
(`robustmsa.media.provenance`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from robustmsa.errors import ConfigError, DataError
from robustmsa.media.align import (
    TIMINGS_EXTENSIONS,
    Word,
    find_timings,
    read_word_timings,
    words_digest,
)
from robustmsa.media.assemble import Sample, build_dataset, write_dataset
from robustmsa.media.labels import LabelRow, find_clip, is_audio_only, read_label_csv
from robustmsa.media.parts import (
    FAILURES_FILE,
    check_work_dir,
    load_part,
    part_name,
    save_part,
)
from robustmsa.media.pipeline import MediaPipeline

log = logging.getLogger(__name__)


class NoMediaError(DataError):
    """A row of the label file has no media file in the folder (counted apart: a folder often
    holds only some of a label file's clips)."""


@dataclass
class ExtractReport:
    """What an extraction run did.

    Attributes:
        out: the written ``.npz`` (its ``.json`` sidecar is next to it).
        n_rows: clips listed in the label file (after ``limit``).
        n_ok: clips in the dataset.
        n_cached: of those, clips read from the work directory instead of extracted.
        n_failed: clips skipped because of an error (see ``failures``).
        failures: the ``failures.jsonl`` file (None for text-only runs).
        missing: modality -> number of clips where it is missing.
        n_no_media: rows of the label file with no media file in the folder (skipped, listed
            in ``failures`` too, not counted in ``n_failed``).
    """

    out: Path
    n_rows: int
    n_ok: int
    n_cached: int
    n_failed: int
    failures: Path | None
    missing: dict[str, int]
    n_no_media: int = 0


def default_work_dir(out: str | os.PathLike) -> Path:
    """``OUT.parts`` next to the output file."""
    p = Path(out)
    return p.with_name(p.with_suffix("").name + ".parts")


def _load_cached(part: Path, mods: tuple[str, ...], text: str, words: str | None = None):
    """A cached part, or None when there is none, it is unreadable or its transcript (or word
    timings) differ from the current ones (then it is removed and the clip extracted again)."""
    if not part.exists():
        return None
    try:
        feats, meta = load_part(part, mods)
    except DataError as e:
        log.warning("%s; extracting the clip again", e)
        part.unlink(missing_ok=True)
        return None
    inputs = meta.get("inputs") or {}
    if inputs.get("transcript") != text or inputs.get("words") != words:
        log.info("%s: transcript or timings changed since cached; extracting again", part.name)
        part.unlink(missing_ok=True)
        return None
    return feats, meta


def _row_words(row: LabelRow, timings_dir: Path | None) -> list[Word] | None:
    if timings_dir is None:
        return None
    path = find_timings(timings_dir, row.id)
    if path is None:
        raise DataError(
            f"no word timings for {row.id} in {timings_dir} "
            f"(looked for {row.id}{{{','.join(TIMINGS_EXTENSIONS)}}})"
        )
    return read_word_timings(path)


def _extract_clip(
    pipeline: MediaPipeline, row: LabelRow, media_root: Path, words: list[Word] | None = None
):
    path = find_clip(media_root, row)
    if path is None:
        raise NoMediaError(
            f"no media file for {row.id} under {media_root}/Raw/{row.video_id}/, "
            f"{media_root}/{row.video_id}/ or {media_root}/ (looked for {row.clip_id}.mp4, "
            f"{row.id}.mp4 and other extensions)"
        )
    if is_audio_only(path):
        return pipeline.extract(audio=path, transcript=row.text, words=words)
    return pipeline.extract(video=path, transcript=row.text, words=words)


def extract_dataset(
    labels: str | os.PathLike,
    out: str | os.PathLike,
    *,
    media_root: str | os.PathLike | None = None,
    pipeline: MediaPipeline | None = None,
    work_dir: str | os.PathLike | None = None,
    pad: str = "mean3std",
    max_len: Mapping[str, int] | None = None,
    limit: int | None = None,
    name: str | None = None,
    progress: bool = True,
    timings_dir: str | os.PathLike | None = None,
) -> ExtractReport:
    """Extract every clip listed in ``labels`` and write the dataset ``out``.

    Args:
        labels: ``label.csv`` (see `robustmsa.media.labels`).
        out: output path (``.npz``; the ``.json`` sidecar is written next to it).
        media_root: folder holding ``Raw/{video_id}/{clip_id}.mp4`` or
            ``{video_id}/{clip_id}.mp4`` (default: the folder of ``labels``).
        pipeline: extractors to use (default `MediaPipeline.default`); reuse one object to
            load the models once.
        work_dir: per-clip cache (default ``OUT.parts``).
        pad, max_len: padding policy and per-modality overrides (`robustmsa.media.assemble`).
        limit: only the first ``limit`` rows of each split.
        name: dataset name (default: the output file stem).
        progress: show a tqdm progress bar.
        timings_dir: folder of word timings files ``{id}.json|.tsv|...``
            (`robustmsa.media.align`); required by (and only used with) a pipeline built with
            ``align="words"``. A clip without timings is logged as failed and skipped.
    """
    rows = read_label_csv(labels, limit=limit)
    if pipeline is not None and pipeline.align == "words" and timings_dir is None:
        raise ConfigError("a word-aligned pipeline needs timings_dir (--timings DIR)")
    if timings_dir is not None:
        if not Path(timings_dir).is_dir():
            raise DataError(f"{timings_dir}: word timings folder not found")
        pipeline = pipeline or MediaPipeline.default(align="words")
        if pipeline.align != "words":
            raise ConfigError("timings_dir given but the pipeline is not word-aligned")
    tdir = Path(timings_dir) if timings_dir is not None else None
    root = Path(media_root) if media_root is not None else Path(labels).parent
    if not root.is_dir():
        raise DataError(f"{root}: media folder not found")
    pipeline = pipeline or MediaPipeline.default()
    desc = pipeline.describe()
    work = Path(work_dir) if work_dir is not None else default_work_dir(out)
    check_work_dir(work, desc)
    failures_path = work / FAILURES_FILE
    failures_path.write_text("")
    mods = tuple(pipeline.extractors)
    samples: list[Sample] = []
    missing = dict.fromkeys(mods, 0)
    n_cached = n_failed = n_no_media = 0
    bar = tqdm(rows, desc="extract", unit="clip", disable=not progress)
    for row in bar:
        part = work / part_name(row.id)
        try:
            words = _row_words(row, tdir)
            cached = _load_cached(part, mods, row.text, words_digest(words) if words else None)
            if cached is not None:
                feats, meta = cached
                n_cached += 1
            else:
                clip = _extract_clip(pipeline, row, root, words)
                save_part(part, clip)
                feats = {m: r.features for m, r in clip.modalities.items()}
                meta = clip.summary()
        except ConfigError:
            raise
        except NoMediaError as e:
            n_no_media += 1
            log.debug("skipping %s: %s", row.id, e)
            with failures_path.open("a") as fh:
                fh.write(json.dumps({"id": row.id, "line": row.line, "error": str(e)}) + "\n")
            continue
        except Exception as e:  # noqa: BLE001 - a bad clip must not stop the run
            n_failed += 1
            reason = str(e) if isinstance(e, DataError) else f"{type(e).__name__}: {e}"
            log.warning("skipping %s: %s", row.id, reason)
            with failures_path.open("a") as fh:
                fh.write(json.dumps({"id": row.id, "line": row.line, "error": reason}) + "\n")
            bar.set_postfix(failed=n_failed)
            continue
        for m in mods:
            if not meta["modalities"][m]["present"]:
                missing[m] += 1
        samples.append(Sample(row.id, row.label, row.split, feats))
    if n_no_media:
        log.warning(
            "%d of the %d clips listed in %s have no media file under %s (ids in %s)",
            n_no_media, len(rows), labels, root, failures_path,
        )
    notes = (
        f"Extracted by robustmsa extract from {Path(labels).name}: {len(samples)} of {len(rows)} "
        f"clips ({n_failed} failed, {n_no_media} without a media file, see {failures_path}); "
        f"missing per modality: {missing}. "
        + (
            "Sequences are aligned to words (one row per word in every modality, from the word "
            f"timings in {tdir}); "
            if tdir is not None
            else "Sequences are unaligned (text per word piece, audio/vision per frame); "
        )
        + f"padding {pad}."
    )
    ds = build_dataset(
        samples,
        pipeline.dims,
        name=name or Path(out).with_suffix("").name,
        source=str(labels),
        pad=pad,
        max_len=max_len,
        notes=notes,
    )
    final = write_dataset(ds, out, desc)
    log.info(
        "wrote %s: %d clips, %d failed, %d from cache", final, len(samples), n_failed, n_cached
    )
    return ExtractReport(
        final, len(rows), len(samples), n_cached, n_failed, failures_path, missing, n_no_media
    )


def extract_text_dataset(
    labels: str | os.PathLike,
    out: str | os.PathLike,
    *,
    pipeline: MediaPipeline | None = None,
    pad: str = "mean3std",
    max_len: Mapping[str, int] | None = None,
    limit: int | None = None,
    name: str | None = None,
    progress: bool = True,
    chunk: int = 512,
) -> ExtractReport:
    """Encode the transcripts of ``labels`` into a text-only dataset ``out``.

    Args:
        pipeline: a pipeline with a text extractor (default: MiniLM only).
        chunk: transcripts per progress-bar step (the encoder batches within a chunk).
        Other arguments as in `extract_dataset`.
    """
    rows = read_label_csv(labels, limit=limit)
    pipeline = pipeline or MediaPipeline.default(("text",))
    if "text" not in pipeline.extractors:
        raise ConfigError("a text-only extraction needs a pipeline with a text extractor")
    ex = pipeline.extractors["text"]
    desc: dict[str, Any] = {"text": ex.describe()}
    # encode in order of length (little padding per batch), keep the file's order in the output
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].text))
    feats: list = [None] * len(rows)
    n_missing = 0
    bar = tqdm(total=len(rows), desc="encode text", unit="clip", disable=not progress)
    for s in range(0, len(order), chunk):
        idx = order[s : s + chunk]
        for i, r in zip(idx, ex.extract_many([rows[i].text for i in idx]), strict=True):
            n_missing += int(not r.present)
            feats[i] = r.features
        bar.update(len(idx))
    bar.close()
    samples = [
        Sample(r.id, r.label, r.split, {"text": f}) for r, f in zip(rows, feats, strict=True)
    ]
    notes = (
        f"Text-only dataset encoded by robustmsa extract --text-only from {Path(labels).name}: "
        f"{len(samples)} clips, official splits from the 'mode' column, {n_missing} empty "
        f"transcripts; token-level features, padding {pad}."
    )
    ds = build_dataset(
        samples,
        {"text": ex.dim},
        name=name or Path(out).with_suffix("").name,
        source=str(labels),
        pad=pad,
        max_len=max_len,
        notes=notes,
    )
    final = write_dataset(ds, out, desc)
    log.info("wrote %s: %d clips", final, len(samples))
    return ExtractReport(final, len(rows), len(samples), 0, 0, None, {"text": n_missing})
