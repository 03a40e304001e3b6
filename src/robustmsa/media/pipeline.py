"""From raw inputs (video / audio file / transcript) to per-modality features of one clip.

`MediaPipeline` holds one extractor per modality (models load once, on first use; reuse the
pipeline object to keep them loaded) and decides which modalities are present:

==========  ========================================================================
modality    missing when (``reason``)
==========  ========================================================================
text        no transcript given / empty transcript
audio       no audio given, no audio stream in the file, or silent (see `robustmsa.media.audio`)
vision      no video given, no video stream, or a face in < 10 % of the frames
==========  ========================================================================

No speech recogniser is used: without a transcript the text modality is missing (the offline
option, pocketsphinx, is too weak to be useful).

Sequences are *unaligned* by default (text per word piece, audio at 100 Hz, vision at the
sampled fps). A pipeline built with ``align="words"`` needs word timings for every clip
(`robustmsa.media.align.read_word_timings`) and returns one row per word in every modality:
word-piece vectors and audio / vision frames are averaged over each word (the layout of the
"aligned" CMU-MOSI/MOSEI features). The alignment is part of every extractor description
(``config.alignment``), so a model trained on aligned features refuses unaligned input.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robustmsa.errors import ConfigError, DataError
from robustmsa.media.align import Word, pool_to_words, words_digest
from robustmsa.media.base import Extractor, ModalityFeatures
from robustmsa.media.decode import decode_audio, probe_media
from robustmsa.media.quiet import quiet_native
from robustmsa.media.registry import DEFAULTS, build_extractor, build_from_description
from robustmsa.types import MODALITIES

log = logging.getLogger(__name__)


@dataclass
class ClipFeatures:
    """Everything extracted from one clip.

    Attributes:
        modalities: modality -> `ModalityFeatures` (only the modalities the pipeline extracts).
        inputs: what was given: ``video``, ``audio`` (paths) and ``transcript`` (text).
        timings: seconds spent per step (``decode_audio``, ``text``, ``audio``, ``vision``).
    """

    modalities: dict[str, ModalityFeatures]
    inputs: dict[str, str | None] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def present(self) -> dict[str, bool]:
        return {m: r.present for m, r in self.modalities.items()}

    @property
    def reasons(self) -> dict[str, str]:
        """modality -> why it is missing (missing modalities only)."""
        return {m: r.reason for m, r in self.modalities.items() if not r.present}

    @property
    def features(self) -> dict[str, np.ndarray]:
        """modality -> (T, D) features of the *present* modalities."""
        return {m: r.features for m, r in self.modalities.items() if r.present}

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable summary (no arrays): presence, reasons, shapes, stats, timings."""
        return {
            "modalities": {
                m: {
                    "present": r.present,
                    "reason": r.reason or None,
                    "shape": list(r.features.shape),
                    "stats": r.stats,
                }
                for m, r in self.modalities.items()
            },
            "inputs": dict(self.inputs),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


class MediaPipeline:
    """One extractor per modality; `extract` turns raw inputs into `ClipFeatures`.

    Args:
        extractors: modality -> extractor object. Modalities left out are not extracted.
        align: None (unaligned sequences) or ``"words"`` (one row per word; `extract` then
            needs word timings).
    """

    ALIGNMENTS = (None, "words")

    def __init__(self, extractors: Mapping[str, Extractor], align: str | None = None) -> None:
        if align not in self.ALIGNMENTS:
            raise ConfigError(f"alignment {align!r}: use None or 'words'")
        self.align = align
        for m, ex in extractors.items():
            if m not in MODALITIES:
                raise ConfigError(f"unknown modality {m!r}; valid: {', '.join(MODALITIES)}")
            if ex.modality != m:
                raise ConfigError(f"extractor {ex.name!r} is a {ex.modality} extractor, not {m}")
        order = {m: i for i, m in enumerate(MODALITIES)}
        self.extractors: dict[str, Extractor] = dict(
            sorted(extractors.items(), key=lambda kv: order[kv[0]])
        )

    @classmethod
    def default(
        cls,
        modalities: tuple[str, ...] | list[str] = MODALITIES,
        *,
        names: Mapping[str, str] | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        align: str | None = None,
    ) -> MediaPipeline:
        """A pipeline with the default (or named) extractor of each modality.

        Args:
            modalities: which modalities to extract.
            names: modality -> extractor name (defaults: minilm / psf / facemesh).
            options: modality -> config overrides, e.g. ``{"text": {"text_model": PATH},
                "vision": {"fps": 15}}``.
            align: None or ``"words"`` (see the class).
        """
        names = {**DEFAULTS, **(names or {})}
        options = options or {}
        return cls(
            {m: build_extractor(names[m], **dict(options.get(m, {}))) for m in modalities},
            align=align,
        )

    @classmethod
    def from_descriptions(cls, descriptions: Mapping[str, Mapping[str, Any]]) -> MediaPipeline:
        """Rebuild a pipeline from `describe` output (e.g. stored in a dataset/checkpoint)."""
        aligns = {(d.get("config") or {}).get("alignment") for d in descriptions.values()}
        if len(aligns) > 1:
            raise ConfigError(f"extractor descriptions disagree on the alignment: {aligns}")
        align = aligns.pop() if aligns else None
        return cls(
            {m: build_from_description(dict(d)) for m, d in descriptions.items()}, align=align
        )

    def describe(self) -> dict[str, dict[str, Any]]:
        """modality -> extractor description (JSON-serialisable)."""
        out = {m: ex.describe() for m, ex in self.extractors.items()}
        if self.align:
            for d in out.values():
                d["config"]["alignment"] = self.align
        return out

    @property
    def dims(self) -> dict[str, int]:
        return {m: int(ex.dim) for m, ex in self.extractors.items()}

    def load(self) -> None:
        """Load every extractor's model now (otherwise each loads on first use).

        Third-party native log lines (MediaPipe/TFLite) are dropped unless ``robustmsa``
        debug logging is on (`robustmsa.media.quiet`)."""
        with quiet_native():
            for ex in self.extractors.values():
                load = getattr(ex, "load", None)
                if load is not None:
                    load()

    def close(self) -> None:
        """Release model resources held by the extractors."""
        with quiet_native():
            for ex in self.extractors.values():
                close = getattr(ex, "close", None)
                if close is not None:
                    close()

    def __enter__(self) -> MediaPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- extraction ---------------------------------------------------------------------
    def extract(
        self,
        *,
        video: str | os.PathLike | None = None,
        audio: str | os.PathLike | None = None,
        transcript: str | None = None,
        words: list[Word] | None = None,
    ) -> ClipFeatures:
        """Extract every configured modality from the given inputs.

        Args:
            video: a video file (its audio stream is used unless ``audio`` is given).
            audio: an audio file (wav, flac, mp3, ... or a video whose audio to use).
            transcript: the spoken text (default: the words of ``words``).
            words: word timings (`robustmsa.media.align`); required when ``align="words"``,
                where they also give the text.

        Raises:
            DataError: a given file is missing or cannot be decoded; an aligned pipeline got
                no word timings.
        """
        with quiet_native():
            return self._extract(video=video, audio=audio, transcript=transcript, words=words)

    def _extract(
        self,
        *,
        video: str | os.PathLike | None,
        audio: str | os.PathLike | None,
        transcript: str | None,
        words: list[Word] | None,
    ) -> ClipFeatures:
        timings: dict[str, float] = {}
        mods: dict[str, ModalityFeatures] = {}
        vinfo = probe_media(video) if video is not None else None
        if self.align == "words" and not words:
            raise DataError(
                "these features are aligned to words: word timings are needed for every clip "
                "(a timings file: 'start end word' lines or JSON)"
            )
        if transcript is None and words:
            transcript = " ".join(w.text for w in words)

        if "text" in self.extractors:
            t = time.perf_counter()
            tex = self.extractors["text"]
            if self.align == "words":
                if not hasattr(tex, "extract_words"):
                    raise ConfigError(f"text extractor {tex.name!r} cannot align to words")
                mods["text"] = tex.extract_words([w.text for w in words])  # type: ignore[union-attr]
            else:
                mods["text"] = tex.extract(transcript)
            timings["text"] = time.perf_counter() - t

        if "audio" in self.extractors:
            ex = self.extractors["audio"]
            t = time.perf_counter()
            src = audio if audio is not None else video
            if src is None:
                signal, why = None, "no audio given"
            else:
                signal = decode_audio(src, ex.config.sample_rate)
                why = f"no audio stream in {Path(src).name}"
            timings["decode_audio"] = time.perf_counter() - t
            t = time.perf_counter()
            mods["audio"] = ex.extract(signal, why)
            timings["audio"] = time.perf_counter() - t

        if "vision" in self.extractors:
            ex = self.extractors["vision"]
            t = time.perf_counter()
            if video is None:
                mods["vision"] = ex.extract(None, "no video given")
            elif vinfo is not None and not vinfo.has_video:
                mods["vision"] = ex.extract(None, f"no video stream in {Path(video).name}")
            else:
                mods["vision"] = ex.extract(video)
            timings["vision"] = time.perf_counter() - t

        if self.align == "words":
            t = time.perf_counter()
            for m in ("audio", "vision"):
                if m in mods and mods[m].present:
                    mods[m] = align_to_words(mods[m], words)  # type: ignore[arg-type]
            timings["align"] = time.perf_counter() - t
        for m, r in mods.items():
            if not r.present:
                log.debug("%s missing: %s", m, r.reason)
        inputs = {
            "video": str(video) if video is not None else None,
            "audio": str(audio) if audio is not None else None,
            "transcript": transcript,
        }
        if words:
            inputs["words"] = words_digest(words)
        return ClipFeatures(modalities=mods, inputs=inputs, timings=timings)


def align_to_words(r: ModalityFeatures, words: list[Word]) -> ModalityFeatures:
    """Frame-level features of one modality pooled onto ``words`` (one row per word)."""
    if r.times is None:
        raise ConfigError(f"{r.modality} features carry no frame times; cannot align to words")
    x, got = pool_to_words(r.features, r.times, r.frame_mask, words)
    stats = {**r.stats, "aligned_to": "words", "words": len(words),
             "words_without_frames": int((~got).sum())}
    return ModalityFeatures(
        modality=r.modality, features=x, present=True, frame_mask=got, stats=stats,
        times=np.array([(w.start + w.end) / 2 for w in words]),
    )
