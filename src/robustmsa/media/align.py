"""Word-level alignment: word timings files and pooling of frame features onto words.

When a transcript comes with word timings (a forced aligner's output, CMU-MOSI's word
alignments, an ASR's word list), every modality can be expressed *per word*, as in the
"aligned" CMU-MOSI/MOSEI features: the text row of a word is the mean of its word-piece vectors,
and the audio / vision row is the mean of the frames whose time falls inside the word's
interval ``[start, end)``. A word with no valid frame inside its interval takes the nearest
valid frame when that is at most ``max_gap`` seconds from the interval; otherwise its row is
zero and its mask entry False.

Timings files (UTF-8), one word per entry:

* ``.json``: a list of ``{"word": ..., "start": s, "end": s}`` objects, or an object with
  such a list under ``"words"``, or Whisper-style ``{"segments": [{"words": [...]}, ...]}``
  (``"text"`` is accepted instead of ``"word"``);
* anything else: one ``start end word`` line per word, separated by tabs, commas or spaces
  (a ``word start end`` order is recognised too). Blank lines and ``#`` comments are skipped.

Silence / pause markers of forced aligners (``sp``, ``sil``, ``<sil>``, ``<s>``, ``</s>``) are
dropped. Times are seconds from the start of the clip.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robustmsa.errors import DataError

SILENCE_MARKERS = frozenset({"sp", "sil", "<sil>", "<s>", "</s>", "{sl}", "<sp>"})
TIMINGS_EXTENSIONS: tuple[str, ...] = (".json", ".tsv", ".csv", ".txt", ".words", ".align")


@dataclass(frozen=True)
class Word:
    """A word and its time span in seconds from the start of the clip."""

    text: str
    start: float
    end: float


def _number(s: str) -> float | None:
    try:
        v = float(s)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def _check(words: list[Word], where: str) -> list[Word]:
    for i, w in enumerate(words):
        if w.start < 0 or w.end < w.start:
            raise DataError(
                f"{where}: word {i + 1} ({w.text!r}) has an invalid span [{w.start}, {w.end}]"
            )
    words = [w for w in words if w.text.lower() not in SILENCE_MARKERS]
    if not words:
        raise DataError(f"{where}: no words")
    return sorted(words, key=lambda w: (w.start, w.end))


def _from_json(obj: object, where: str) -> list[Word]:
    if isinstance(obj, dict) and isinstance(obj.get("segments"), list):
        items = [w for seg in obj["segments"] for w in (seg.get("words") or [])]
    elif isinstance(obj, dict) and isinstance(obj.get("words"), list):
        items = obj["words"]
    elif isinstance(obj, list):
        items = obj
    else:
        raise DataError(f"{where}: expected a list of words or an object with 'words'")
    out = []
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise DataError(f"{where}: word {i + 1} is not an object")
        text = it.get("word", it.get("text"))
        start, end = it.get("start"), it.get("end")
        if not isinstance(text, str) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (start, end)
        ):
            raise DataError(f"{where}: word {i + 1} needs 'word' (text), 'start' and 'end' (s)")
        out.append(Word(text.strip(), float(start), float(end)))
    return out


def _from_lines(text: str, where: str) -> list[Word]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p for p in re.split(r"[\t,; ]+", line) if p]
        if len(parts) >= 3 and _number(parts[0]) is not None and _number(parts[1]) is not None:
            start, end, word = float(parts[0]), float(parts[1]), " ".join(parts[2:])
        elif len(parts) >= 3 and _number(parts[-2]) is not None and _number(parts[-1]) is not None:
            start, end, word = float(parts[-2]), float(parts[-1]), " ".join(parts[:-2])
        elif n == 1 and len(parts) >= 3:  # a header line such as "start,end,word"
            continue
        else:
            raise DataError(f"{where}:{n}: expected 'start end word', got {line!r}")
        out.append(Word(word, start, end))
    return out


def read_word_timings(path: str | os.PathLike) -> list[Word]:
    """The words of a timings file, sorted by start time, silence markers dropped.

    Raises:
        DataError: the file is missing, malformed (the message names file and line), has a
            negative or reversed span, or holds no word.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot read the word timings ({e})") from None
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise DataError(f"{p}: invalid JSON ({e})") from None
        words = _from_json(obj, str(p))
    else:
        words = _from_lines(raw, str(p))
    return _check(words, str(p))


def words_digest(words: Sequence[Word]) -> str:
    """A short, stable fingerprint of word timings (``"N words, sha1 XXXXXXXXXXXX"``)."""
    import hashlib

    blob = json.dumps([[w.text, round(w.start, 4), round(w.end, 4)] for w in words])
    return f"{len(words)} words, sha1 {hashlib.sha1(blob.encode()).hexdigest()[:12]}"


def find_timings(folder: str | os.PathLike, clip_id: str) -> Path | None:
    """``folder/{clip_id}{ext}`` for the first timings extension that exists, else None."""
    for ext in TIMINGS_EXTENSIONS:
        p = Path(folder) / f"{clip_id}{ext}"
        if p.is_file():
            return p
    return None


def frame_times(n: int, rate_hz: float) -> np.ndarray:
    """(n,) centre times in seconds of ``n`` consecutive frames at ``rate_hz``."""
    return (np.arange(n, dtype=np.float64) + 0.5) / float(rate_hz)


def pool_to_words(
    features: np.ndarray,
    times: np.ndarray,
    valid: np.ndarray | None,
    words: Sequence[Word],
    max_gap: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the valid frames inside each word's interval.

    Args:
        features: (T, D) frame features.
        times: (T,) frame times in seconds.
        valid: (T,) bool, False for frames without content (e.g. no face); None: all valid.
        words: the W words.
        max_gap: a word without a valid frame inside takes the nearest valid frame when it
            lies within ``max_gap`` seconds of the interval.

    Returns:
        ((W, D) float32 word features, (W,) bool: the word got at least one frame).
    """
    x = np.asarray(features, dtype=np.float32)
    t = np.asarray(times, dtype=np.float64)
    ok = np.ones(len(t), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if x.shape[0] != t.shape[0] or ok.shape[0] != t.shape[0]:
        raise ValueError(f"features {x.shape}, times {t.shape} and valid {ok.shape} disagree")
    starts = np.array([w.start for w in words], dtype=np.float64)  # (W,)
    ends = np.array([w.end for w in words], dtype=np.float64)  # (W,)
    inside = (t[None, :] >= starts[:, None]) & (t[None, :] < ends[:, None]) & ok[None, :]  # (W, T)
    counts = inside.sum(1)  # (W,)
    out = (inside.astype(np.float32) @ x) / np.maximum(counts, 1)[:, None]  # (W, D)
    if ok.any():
        vt = t[ok]  # (V,)
        vx = x[ok]  # (V, D)
        for i in np.flatnonzero(counts == 0):
            # distance of each valid frame to the interval [start, end)
            d = np.maximum(starts[i] - vt, 0) + np.maximum(vt - ends[i], 0)  # (V,)
            j = int(d.argmin())
            if d[j] <= max_gap:
                out[i], counts[i] = vx[j], 1
    return out.astype(np.float32), counts > 0
