"""Prediction from raw media: clip -> features -> a trained model's sentiment.

`predict_media` loads the checkpoint's `Predictor` (``robustmsa.inference``), rebuilds the
feature extractors the model was trained with (from the extractor configuration the checkpoint
carries in its dataset info), checks that their output widths match the model, extracts the
modalities found in the inputs and calls ``predictor.predict_features(features, present)``.

The predictor interface used here (duck-typed, so tests can pass a fake):

* ``predictor.info_`` (or ``info`` / ``dataset_info``): a `DatasetInfo` or its dict, for
  ``dims``, ``seq_lens``, ``score_range`` and the extractor configuration stored in its notes
  (`robustmsa.media.provenance`); a non-empty ``extractor`` / ``extractors`` attribute of the
  predictor (modality -> extractor description) takes precedence;
* ``predictor.predict_features(features, present) -> {"score", "probs", "class_names"}`` where
  ``features`` holds (T, D) arrays of the *present* modalities only (an absent key means
  missing) and ``present`` covers every modality of the model.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robustmsa.errors import CheckpointError, ConfigError, DataError, RobustMSAError
from robustmsa.media.align import read_word_timings
from robustmsa.media.base import describe_mismatch
from robustmsa.media.pipeline import MediaPipeline
from robustmsa.media.provenance import extractor_config
from robustmsa.types import MODALITIES

log = logging.getLogger(__name__)

NOT_USED = "not used by this model"


_FILE_LIKE = re.compile(r"\S*(/|\\)\S*|\S+\.(txt|text|md|srt|vtt|csv|tsv|json|lab|trn)",
                        re.IGNORECASE)


def looks_like_path(value: str) -> bool:
    """A single token with a path separator or a text-file suffix (``notes.txt``)."""
    return _FILE_LIKE.fullmatch(value.strip()) is not None


def read_transcript_file(path: str | os.PathLike) -> str:
    """The stripped UTF-8 content of transcript file ``path``.

    Raises:
        ConfigError: missing, not a file, unreadable or not UTF-8 (names the file).
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"{p}: transcript file not found")
    if not p.is_file():
        raise ConfigError(f"{p}: the transcript must be a text file, not a directory")
    try:
        return p.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: the transcript is not UTF-8 text ({e.reason} at byte "
                          f"{e.start})") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the transcript ({e.strerror or e})") from None


def resolve_transcript(value: str | None) -> str | None:
    """``value`` itself, or the content of the text file it names (if such a file exists).

    Raises:
        ConfigError: ``value`` looks like a file name (one token ending in ``.txt`` etc., or a
            path) but no such file exists: it is not silently used as the spoken text.
    """
    if value is None:
        return None
    if len(value) < 4096 and "\n" not in value:
        p = Path(value).expanduser()
        try:
            if p.is_file():
                return read_transcript_file(p)
        except OSError:
            pass
        if looks_like_path(value):
            raise ConfigError(
                f"--transcript {value!r}: looks like a file name but no such file exists; give "
                "the spoken text itself (e.g. --transcript \"it was good\") or an existing file "
                "with --transcript-file FILE"
            )
    return value


def _load_predictor(checkpoint: str):
    try:
        from robustmsa.inference import Predictor
    except ImportError as e:
        raise RobustMSAError(f"robustmsa.inference is not available ({e})") from None
    return Predictor.from_checkpoint(checkpoint)


def load_predictor(checkpoint: str | os.PathLike):
    """The checkpoint's `Predictor` (loaded once; pass it to `predict_media` as ``predictor``)."""
    return _load_predictor(str(checkpoint))


def pipeline_for(
    checkpoint: str | os.PathLike, predictor: Any, text_model: str | None = None
) -> MediaPipeline:
    """The feature extractors ``predictor``'s model was trained with (models not loaded yet;
    pass it to `predict_media` as ``pipeline`` to load them once for many clips)."""
    info = _info_dict(predictor)
    ckpt_ext = extractor_config(predictor) or extractor_config(info)
    dims = (info or {}).get("dims", {})
    mods = [m for m in MODALITIES if m in dims] if dims else list(MODALITIES)
    return _build_pipeline(str(checkpoint), mods, ckpt_ext, text_model)


def model_info(predictor: Any) -> dict[str, Any]:
    """The dataset info of ``predictor``'s model as a dict (``dims``, ``score_range``...)."""
    return _info_dict(predictor) or {}


def _info_dict(predictor: Any) -> dict[str, Any] | None:
    for attr in ("info", "info_", "dataset_info", "data_info"):
        v = getattr(predictor, attr, None)
        if v is None:
            continue
        if hasattr(v, "to_dict"):
            return v.to_dict()
        if is_dataclass(v):
            return asdict(v)
        if isinstance(v, dict):
            return dict(v)
    return None


def _build_pipeline(
    checkpoint: str, mods: list[str], ckpt_ext: dict[str, Any] | None, text_model: str | None
) -> MediaPipeline:
    """Extractors the checkpoint was trained with (or the defaults when it does not say)."""
    if not ckpt_ext:
        opts = {"text": {"text_model": text_model}} if text_model and "text" in mods else None
        return MediaPipeline.default(mods, options=opts)
    descs: dict[str, Any] = {}
    for m in mods:
        if m not in ckpt_ext:
            raise CheckpointError(
                f"{checkpoint}: the model uses {m} but its extractor configuration has no "
                f"{m} extractor (it has: {', '.join(ckpt_ext) or 'none'})"
            )
        d = dict(ckpt_ext[m])
        if m == "text" and text_model:
            d["runtime"] = {**(d.get("runtime") or {}), "text_model": text_model}
        descs[m] = d
    try:
        return MediaPipeline.from_descriptions(descs)
    except ConfigError as e:
        raise CheckpointError(
            f"{checkpoint}: cannot rebuild the feature extractors it was trained with: {e}"
        ) from None


def check_compatibility(
    checkpoint: str, pipeline: MediaPipeline, dims: dict[str, int], ckpt_ext: dict[str, Any] | None
) -> None:
    """Raise `CheckpointError` when the extractors do not match the checkpoint's features."""
    desc = pipeline.describe()
    for m, d in dims.items():
        if m not in desc:
            raise CheckpointError(f"{checkpoint}: the model uses {m} but no {m} extractor is set")
        if ckpt_ext and m in ckpt_ext:
            diff = describe_mismatch(ckpt_ext[m], desc[m])
            if diff:
                raise CheckpointError(
                    f"{checkpoint}: {m} extractor differs from the one the model was trained "
                    f"with: " + "; ".join(diff)
                )
        if int(desc[m]["dim"]) != int(d):
            raise CheckpointError(
                f"{checkpoint}: the model expects {m} features of width {d}, but extractor "
                f"{desc[m]['name']!r} produces {desc[m]['dim']}; this checkpoint was not trained "
                f"on features from `robustmsa extract` with these settings"
            )


def predict_media(
    checkpoint: str,
    video: str | None = None,
    audio: str | None = None,
    transcript: str | None = None,
    *,
    timings: str | os.PathLike | None = None,
    text_model: str | None = None,
    pipeline: MediaPipeline | None = None,
    predictor: Any | None = None,
    return_features: bool = False,
    clip_id: str | None = None,
    band: float | None = None,
) -> dict[str, Any]:
    """Sentiment of a raw clip with the model in ``checkpoint``.

    Args:
        checkpoint: a checkpoint loadable by ``robustmsa.inference.Predictor``.
        video: video file (its audio track is used unless ``audio`` is given).
        audio: audio file.
        transcript: the spoken text, or the path of a UTF-8 text file holding it.
        timings: a word timings file (`robustmsa.media.align`); required when the model was
            trained on word-aligned features, where it also gives the transcript.
        text_model: override the checkpoint's text encoder directory.
        pipeline: extractors to use (checked against the checkpoint); reuse to load once.
        predictor: an already-loaded predictor (``checkpoint`` is then only used in messages).
        return_features: also return the feature arrays given to the model (``features``);
            without them the result is JSON-serialisable as is.
        clip_id: the clip's id, checked against the model card's training/validation ids
            (default: the file name's stem).
        band: half-width of the neutral band (default `neutral_band` of the score range).

    Returns:
        ``score``, ``probs``, ``class_names``; ``present`` (modality -> bool) and ``missing``
        (modality -> reason) for the model's modalities; ``modalities`` (per modality: present,
        used, reason, shape, stats); ``inputs``, ``extractors``, ``timings``, ``checkpoint``,
        ``score_range``; ``polarity``, ``neutral_band``, ``clip_id``, ``model_split``
        (`annotate`); with ``return_features``, ``features`` (modality -> (T, D) array as
        given to the model).

    Raises:
        CheckpointError: the extractors do not match the checkpoint (config or widths).
        DataError: an input file is missing or cannot be decoded.
    """
    if video is None and audio is None and transcript is None and timings is None:
        raise ConfigError("nothing to predict from: give a video, an audio file or a transcript")
    transcript = resolve_transcript(transcript)  # input problems before any model is loaded
    for flag, f in (("--video", video), ("--audio", audio), ("--timings", timings)):
        if f is not None and not Path(f).is_file():
            raise DataError(f"{f}: {flag} file not found" if not Path(f).exists()
                            else f"{f}: {flag} must be a file, not a directory")
    t0 = time.perf_counter()
    predictor = predictor if predictor is not None else _load_predictor(checkpoint)
    info = _info_dict(predictor)
    ckpt_ext = extractor_config(predictor) or extractor_config(info)
    dims = {m: int(d) for m, d in (info or {}).get("dims", {}).items()}
    mods = [m for m in MODALITIES if m in dims] if dims else list(MODALITIES)
    if pipeline is None:
        pipeline = _build_pipeline(checkpoint, mods, ckpt_ext, text_model)
    check_compatibility(checkpoint, pipeline, dims, ckpt_ext)
    if not ckpt_ext and mods:  # warned only once the defaults are known to fit
        log.warning("%s carries no extractor configuration; using the default extractors",
                    checkpoint)
    words = read_word_timings(timings) if timings is not None else None
    if pipeline.align == "words" and words is None:
        raise ConfigError(
            f"{checkpoint}: the model was trained on word-aligned features; give the clip's "
            "word timings (--timings FILE: 'start end word' lines or JSON)"
        )
    pipeline.load()
    t_load = time.perf_counter() - t0

    t1 = time.perf_counter()
    clip = pipeline.extract(
        video=video, audio=audio, transcript=transcript, words=words
    )
    t_extract = time.perf_counter() - t1

    seq_lens = (info or {}).get("seq_lens", {})
    features: dict[str, np.ndarray] = {}
    present: dict[str, bool] = {}
    modalities: dict[str, dict[str, Any]] = {}
    for m in MODALITIES:
        r = clip.modalities.get(m)
        if m not in mods or r is None:
            modalities[m] = {
                "present": None,
                "used": False,
                "reason": NOT_USED,
                "shape": None,
                "stats": {},
            }
            continue
        present[m] = r.present
        x = r.features
        stats = dict(r.stats)
        if r.present:
            cap = int(seq_lens.get(m, 0) or 0)
            if cap and x.shape[0] > cap:
                stats["truncated_from"] = int(x.shape[0])
                x = x[:cap]
            features[m] = x
        modalities[m] = {
            "present": r.present,
            "used": r.present,
            "reason": r.reason or None,
            "shape": list(x.shape),
            "stats": stats,
        }
    if not any(present.values()):
        log.warning("no modality of the model was found in the inputs; predicting anyway")

    t2 = time.perf_counter()
    # every extracted row is a frame (a vision row without a face is all zero but valid)
    out = _predict(predictor, features, present, {m: int(x.shape[0]) for m, x in features.items()})
    t_pred = time.perf_counter() - t2
    probs = out.get("probs")
    result = {
        "score": float(out["score"]),
        "probs": [float(p) for p in np.asarray(probs).reshape(-1)] if probs is not None else None,
        "class_names": list(out.get("class_names") or []) or None,
        "present": present,
        "missing": {m: modalities[m]["reason"] for m in present if not present[m]},
        "modalities": modalities,
        "inputs": clip.inputs,
        "extractors": {
            m: {k: v for k, v in d.items() if k != "columns"}
            for m, d in pipeline.describe().items()
        },
        "checkpoint": str(checkpoint),
        "score_range": list((info or {}).get("score_range", (-3.0, 3.0))),
        "timings": {
            "load": round(t_load, 4),
            "extract": round(t_extract, 4),
            "predict": round(t_pred, 4),
            **{f"extract_{k}": round(v, 4) for k, v in clip.timings.items()},
        },
    }
    annotate(result, checkpoint, clip_id=clip_id or clip_id_of(video, audio), band=band)
    if return_features:
        result["features"] = features
    return result


def _predict(predictor: Any, features: dict, present: dict, lengths: dict) -> dict:
    import inspect

    try:
        takes_lengths = "lengths" in inspect.signature(predictor.predict_features).parameters
    except (TypeError, ValueError):
        takes_lengths = False
    if takes_lengths:
        return predictor.predict_features(features, present, lengths=lengths)
    return predictor.predict_features(features, present)


def result_to_json(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` without the feature arrays (their shapes stay under ``modalities``)."""
    return {k: v for k, v in result.items() if k != "features"}


def neutral_band(score_range: tuple[float, float] | list[float] | None) -> float:
    """Half-width of the neutral band: scores with ``|score| <= band`` are called neutral.

    The band is the set of scores that round to the neutral point 0 of a 7-point integer scale
    spanning the model's score range, i.e. ``hi / 6``: ``0.5`` on MOSI/MOSEI's [-3, 3] (exactly
    the scores MMSA's Acc-7 bins as class 0), ``1/6`` on SIMS' [-1, 1].
    """
    lo, hi = score_range if score_range is not None else (-3.0, 3.0)
    return float(max(abs(lo), abs(hi)) / 6.0)


def polarity(score: float, band: float) -> str:
    """``negative`` / ``neutral`` / ``positive`` with the neutral band ``|score| <= band``."""
    if abs(score) <= band:
        return "neutral"
    return "positive" if score > 0 else "negative"


def clip_id_of(video: str | os.PathLike | None, audio: str | os.PathLike | None) -> str | None:
    """The clip id a file name gives (``Oz06ZWiO20M_6.mp4`` -> ``Oz06ZWiO20M_6``)."""
    src = video if video is not None else audio
    return Path(src).stem if src is not None else None


def annotate(
    result: dict[str, Any],
    checkpoint: str | os.PathLike,
    *,
    clip_id: str | None,
    band: float | None = None,
) -> dict[str, Any]:
    """Add ``polarity``, ``neutral_band``, ``clip_id`` and ``model_split`` (the split of the
    model's own data that holds ``clip_id``, from the model card next to the checkpoint:
    ``"train"``, ``"valid"`` or None) to a prediction ``result`` (in place; returned)."""
    from robustmsa.zoo import split_of

    b = neutral_band(result.get("score_range")) if band is None else float(band)
    result["polarity"] = polarity(result["score"], b)
    result["neutral_band"] = b
    result["clip_id"] = clip_id
    result["model_split"] = split_of(checkpoint, clip_id) if clip_id else None
    return result


def split_note(result: dict[str, Any]) -> str | None:
    """A warning line when the clip belongs to the model's own training/validation data."""
    where = result.get("model_split")
    if not where:
        return None
    what = "training" if where == "train" else "validation (model selection)"
    return (
        f"Note: clip {result['clip_id']} is in this model's {what} split (see its model card): "
        f"this score is not a held-out estimate."
    )


def _shape_text(m: str, info: dict[str, Any]) -> str:
    t, d = info["shape"]
    unit = {"text": "tokens", "audio": "frames", "vision": "frames"}[m]
    extra = ""
    st = info.get("stats") or {}
    if m == "audio" and "rate_hz" in st:
        extra = f" at {st['rate_hz']:g} Hz"
    if m == "vision" and "face_frames" in st:
        if st.get("fps"):
            extra = f" at {st['fps']:g} fps"
        extra += f", face in {st['face_frames']}/{st['frames']} frames"
    if "truncated_from" in st:
        extra += f", truncated from {st['truncated_from']}"
    return f"{t} {unit} x {d}{extra}"


def scale_of(result: dict[str, Any]) -> tuple[float, float, float, str]:
    """(low, high, neutral band, polarity word) of a prediction ``result``; the band and the
    word from `annotate` when it ran, else the defaults (`neutral_band`, `polarity`)."""
    lo, hi = result.get("score_range") or (-3.0, 3.0)
    band = result.get("neutral_band")
    band = neutral_band((lo, hi)) if band is None else band
    return lo, hi, band, result.get("polarity") or polarity(result["score"], band)


def modality_state(info: dict[str, Any]) -> str:
    """``"used"``, ``"unused"`` (the model has no such input) or ``"missing"`` (the model
    uses it, the clip gave none usable: ``info["reason"]`` says why) for one modality's entry
    of ``result["modalities"]``."""
    if info["used"]:
        return "used"
    return "unused" if info["present"] is None else "missing"


def format_prediction(result: dict[str, Any]) -> str:
    """Human-readable rendering: score, class probabilities, modalities used / missing + why."""
    lo, hi, band, word = scale_of(result)
    lines = [
        f"Sentiment score: {result['score']:+.3f} ({word}; scale {lo:g} to {hi:g}, "
        f"neutral when |score| <= {band:.3g})"
    ]
    probs, names = result.get("probs"), result.get("class_names")
    if probs:
        names = names or [f"class {i}" for i in range(len(probs))]
        best = int(np.argmax(probs))
        lines.append("Class probabilities:")
        w = max(len(str(n)) for n in names)
        for i, (n, p) in enumerate(zip(names, probs, strict=False)):
            mark = "  <- predicted" if i == best else ""
            lines.append(f"  {str(n):<{w}}  {p:6.1%}  {'#' * int(round(p * 20))}{mark}")
    lines.append("Modalities:")
    for m, info in result["modalities"].items():
        state = modality_state(info)
        if state == "used":
            lines.append(f"  {m:<7} used     {_shape_text(m, info)}")
        elif state == "unused":
            lines.append(f"  {m:<7} -        {info['reason']}")
        else:
            lines.append(f"  {m:<7} MISSING  {info['reason']}")
    note = split_note(result)
    if note:
        lines.append(note)
    tm = result.get("timings", {})
    if tm:
        lines.append(
            f"Time: loading {tm.get('load', 0):.2f} s, features {tm.get('extract', 0):.2f} s, "
            f"model {tm.get('predict', 0):.3f} s"
        )
    return "\n".join(lines)
