"""Decoding with PyAV: streams, 16 kHz mono audio, fixed-fps frames, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from media_consts import OZ_VIDEO, WAV

from robustmsa.errors import DataError


def test_probe_and_decode_video_audio(media_extra, media_dir):
    from robustmsa.media.decode import decode_audio, probe_media

    info = probe_media(media_dir / OZ_VIDEO)
    assert info.has_audio and info.has_video
    assert (info.width, info.height) == (480, 360)
    assert 7.0 < info.duration < 8.0
    sig = decode_audio(media_dir / OZ_VIDEO)
    assert sig is not None and sig.sample_rate == 16000
    assert sig.samples.ndim == 1 and sig.samples.dtype == np.float32
    assert 7.0 < sig.duration < 8.0
    assert np.abs(sig.samples).max() <= 1.0


def test_decode_stereo_wav_to_mono(media_extra, media_dir):
    from robustmsa.media.decode import decode_audio, probe_media

    assert not probe_media(media_dir / WAV).has_video
    sig = decode_audio(media_dir / WAV)
    assert sig.samples.ndim == 1
    assert sig.duration == pytest.approx(3.33, abs=0.05)


def test_video_frames_at_fixed_fps(media_extra, media_dir):
    from robustmsa.media.decode import iter_video_frames

    frames = list(iter_video_frames(media_dir / OZ_VIDEO, fps=10, max_side=320))
    assert 73 <= len(frames) <= 76  # 7.5 s at 10 fps
    times = np.array([t for t, _ in frames])
    assert times[0] == 0.0 and np.all(np.diff(times) > 0.06) and np.all(np.diff(times) < 0.14)
    assert frames[0][1].shape == (240, 320, 3) and frames[0][1].dtype == np.uint8
    native = list(iter_video_frames(media_dir / OZ_VIDEO, fps=None, max_side=None))
    assert len(native) == 225 and native[0][1].shape == (360, 480, 3)


def test_stripped_video_has_no_audio(stripped_video):
    from robustmsa.media.decode import decode_audio, probe_media

    info = probe_media(stripped_video)
    assert info.has_video and not info.has_audio
    assert decode_audio(stripped_video) is None


def test_missing_and_corrupt_files_name_the_file(media_extra, tmp_path):
    from robustmsa.media.decode import decode_audio, iter_video_frames, probe_media

    with pytest.raises(DataError, match="nope.mp4: file not found"):
        probe_media(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(DataError, match="bad.mp4"):
        decode_audio(bad)
    with pytest.raises(DataError, match="bad.mp4"):
        list(iter_video_frames(bad))


def test_prefetch_order_errors_and_early_close(media_extra):
    from robustmsa.media.decode import prefetch

    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise DataError("clip.mp4: cannot decode the video stream")

    it = prefetch(failing(), depth=2)
    assert next(it) == 1
    with pytest.raises(DataError, match="clip.mp4"):
        next(it)
    gen = prefetch(iter(range(10_000)), depth=2)
    assert next(gen) == 0
    gen.close()  # stops the producer thread without hanging
