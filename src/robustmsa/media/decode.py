"""Decoding of media files with PyAV (bundled FFmpeg libraries; no system ffmpeg needed).

* `probe_media` — which streams a file has, its duration and frame size.
* `decode_audio` — the first audio stream, resampled to mono float32 at a fixed rate
  (16 kHz by default), or ``None`` when the file has no audio stream.
* `iter_video_frames` — RGB frames of the first video stream resampled to a fixed frame rate
  (nearest decoded frame at or after each target time), optionally downscaled.

Every failure raises `DataError` naming the file.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from robustmsa.errors import ConfigError, DataError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class MediaInfo:
    """Streams and size of a media file.

    Attributes:
        path: the file.
        has_audio: whether it has at least one audio stream.
        has_video: whether it has at least one video stream (cover art is ignored).
        duration: seconds (container duration, or 0.0 when unknown).
        width, height: frame size of the first video stream (0 when there is none).
        fps: average frame rate of the first video stream (0.0 when unknown).
    """

    path: str
    has_audio: bool
    has_video: bool
    duration: float
    width: int = 0
    height: int = 0
    fps: float = 0.0


@dataclass(frozen=True)
class AudioSignal:
    """A mono audio signal.

    Attributes:
        samples: (n,) float32 in [-1, 1].
        sample_rate: samples per second.
        source: the file it was decoded from.
    """

    samples: np.ndarray
    sample_rate: int
    source: str = ""

    @property
    def duration(self) -> float:
        return float(self.samples.shape[0]) / float(self.sample_rate)


def _import_av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "decoding media needs PyAV: install the media extra (pip install 'robustmsa[media]')"
        ) from e
    return av


def _open(path: str | os.PathLike):
    av = _import_av()
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    try:
        return av.open(str(p))
    except (av.FFmpegError, OSError, ValueError) as e:
        raise DataError(f"{p}: cannot open as audio/video ({e})") from None


def _video_streams(container) -> list:
    out = []
    for s in container.streams.video:
        disp = getattr(s, "disposition", None)
        # Skip attached pictures (cover art in audio files).
        if disp is not None and "attached_pic" in str(disp).lower():
            continue
        out.append(s)
    return out


def probe_media(path: str | os.PathLike) -> MediaInfo:
    """Streams, duration and frame size of ``path`` (no decoding).

    Raises:
        DataError: the file is missing or FFmpeg cannot open it.
    """
    with _open(path) as c:
        vids = _video_streams(c)
        dur = float(c.duration) / 1e6 if c.duration else 0.0
        w = h = 0
        fps = 0.0
        if vids:
            cc = vids[0].codec_context
            w, h = int(cc.width or 0), int(cc.height or 0)
            rate = vids[0].average_rate or vids[0].guessed_rate
            fps = float(rate) if rate else 0.0
        return MediaInfo(
            path=str(path),
            has_audio=len(c.streams.audio) > 0,
            has_video=bool(vids),
            duration=dur,
            width=w,
            height=h,
            fps=fps,
        )


def decode_audio(path: str | os.PathLike, sample_rate: int = 16000) -> AudioSignal | None:
    """Decode the first audio stream of ``path`` to mono float32 at ``sample_rate``.

    Returns:
        The signal, or ``None`` when the file has no audio stream.

    Raises:
        DataError: the file is missing, unreadable, or its audio cannot be decoded.
    """
    av = _import_av()
    with _open(path) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in c.decode(stream):
                for g in resampler.resample(frame):
                    chunks.append(g.to_ndarray().reshape(-1))
            for g in resampler.resample(None):
                chunks.append(g.to_ndarray().reshape(-1))
        except (av.FFmpegError, ValueError) as e:
            raise DataError(f"{path}: cannot decode the audio stream ({e})") from None
    x = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    x = np.clip(x.astype(np.float32, copy=False), -1.0, 1.0)
    return AudioSignal(samples=x, sample_rate=sample_rate, source=str(path))


def _target_size(w: int, h: int, max_side: int | None) -> tuple[int, int]:
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / float(max(w, h))
    # even sizes keep swscale happy for yuv420 sources
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


def iter_video_frames(
    path: str | os.PathLike,
    fps: float | None = 10.0,
    *,
    max_side: int | None = 1280,
    skip_nonref: bool = False,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, rgb)`` frames of the first video stream, resampled to ``fps``.

    For each target time ``k / fps`` the first decoded frame whose timestamp is at or after it
    (within half a source frame) is converted; other frames are decoded but not converted.

    Args:
        path: the video file.
        fps: output frame rate; ``None`` or 0 keeps every decoded frame. Frames are never
            duplicated, so the output rate is at most the source's.
        max_side: downscale so that the longer side is at most this many pixels (None: keep).
        skip_nonref: ask the decoder to skip non-reference frames (faster, fewer candidates).

    Raises:
        DataError: the file is missing, has no video stream, or cannot be decoded.
    """
    av = _import_av()
    with _open(path) as c:
        vids = _video_streams(c)
        if not vids:
            raise DataError(f"{path}: no video stream")
        stream = vids[0]
        stream.thread_type = "AUTO"
        if skip_nonref:
            stream.codec_context.skip_frame = "NONREF"
        rate = stream.average_rate or stream.guessed_rate
        src_period = 1.0 / float(rate) if rate else 1.0 / 30.0
        step = 1.0 / fps if fps else 0.0
        next_t = 0.0
        t0: float | None = None
        size: tuple[int, int] | None = None
        try:
            for i, frame in enumerate(c.decode(stream)):
                t = float(frame.time) if frame.time is not None else i * src_period
                if t0 is None:
                    t0 = t
                t -= t0  # clips may start at a non-zero timestamp
                if step and t + src_period / 2 < next_t:
                    continue
                if size is None:
                    size = _target_size(frame.width, frame.height, max_side)
                rgb = frame.to_ndarray(
                    format="rgb24", width=size[0], height=size[1], interpolation="AREA"
                )
                yield t, rgb
                if step:
                    while next_t <= t + src_period / 2:
                        next_t += step
        except (av.FFmpegError, ValueError) as e:
            raise DataError(f"{path}: cannot decode the video stream ({e})") from None


_DONE = object()


def prefetch(it: Iterator[T], depth: int = 8) -> Iterator[T]:
    """Iterate ``it`` in a background thread, ``depth`` items ahead.

    Decoding (PyAV) and the consumer (e.g. FaceMesh) both release the GIL, so on two cores they
    overlap. Exceptions of the producer are re-raised in the consumer; closing the returned
    generator early stops the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in it:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            q.put(e)

    th = threading.Thread(target=produce, name="robustmsa-decode", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while th.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(timeout=0.05)
