"""`predict_media` / `format_prediction` with a fake predictor (the real one is the lead's)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from media_consts import OZ_TEXT, OZ_VIDEO, WAV, WAV_TEXT

from robustmsa.data.schema import DatasetInfo
from robustmsa.errors import CheckpointError


class FakePredictor:
    """Duck-typed stand-in for ``robustmsa.inference.Predictor``."""

    def __init__(self, info: DatasetInfo) -> None:
        self.info = info
        self.calls: list[tuple[dict, dict]] = []

    def predict_features(self, features, present):
        self.calls.append((features, present))
        return {
            "score": -1.25,
            "probs": [0.7, 0.2, 0.1],
            "class_names": ["negative", "neutral", "positive"],
        }


def make_info(extractors, dims=None, seq_lens=None) -> DatasetInfo:
    from robustmsa.media.provenance import notes_with_extractors

    dims = dims or {m: d["dim"] for m, d in extractors.items()}
    return DatasetInfo(
        name="x",
        dims=dims,
        seq_lens=seq_lens or dict.fromkeys(dims, 1000),
        notes=notes_with_extractors("trained on extracted features", extractors),
    )


def test_predict_full_clip(pipeline, media_dir):
    from robustmsa.media.predict import format_prediction, predict_media, result_to_json

    fake = FakePredictor(
        make_info(pipeline.describe(), seq_lens={"text": 16, "audio": 500, "vision": 50})
    )
    res = predict_media(
        "ckpt.pt",
        video=str(media_dir / OZ_VIDEO),
        transcript=OZ_TEXT,
        pipeline=pipeline,
        predictor=fake,
    )
    feats, present = fake.calls[0]
    assert present == {"text": True, "audio": True, "vision": True}
    assert {m: x.shape for m, x in feats.items()} == {
        "text": (16, 384),
        "audio": (500, 41),
        "vision": (50, 1441),
    }  # truncated to seq_lens
    assert res["score"] == -1.25 and res["missing"] == {}
    assert res["modalities"]["vision"]["stats"]["truncated_from"] == 75
    text = format_prediction(res)
    assert "Sentiment score: -1.250 (negative" in text
    assert "negative" in text and "70.0%" in text and "<- predicted" in text
    assert (
        "vision  used     50 frames x 1441 at 10 fps, face in 75/75 frames, truncated from 75"
        in text
    )
    assert "audio   used     500 frames x 41 at 100 Hz, truncated from" in text
    assert "features" not in res
    json.dumps(res)  # JSON-serialisable as returned
    assert result_to_json(res) == res


def test_predict_audio_only_reports_missing(pipeline, media_dir, tmp_path):
    from robustmsa.media.predict import format_prediction, predict_media

    fake = FakePredictor(make_info(pipeline.describe()))
    res = predict_media("ckpt.pt", audio=str(media_dir / WAV), pipeline=pipeline, predictor=fake)
    assert res["present"] == {"text": False, "audio": True, "vision": False}
    assert res["missing"] == {"text": "no transcript given", "vision": "no video given"}
    assert set(fake.calls[0][0]) == {"audio"}  # only present modalities are passed
    out = format_prediction(res)
    assert "text    MISSING  no transcript given" in out
    assert "vision  MISSING  no video given" in out

    tfile = tmp_path / "t.txt"
    tfile.write_text(WAV_TEXT + "\n")
    res = predict_media(
        "ckpt.pt",
        audio=str(media_dir / WAV),
        transcript=str(tfile),
        pipeline=pipeline,
        predictor=fake,
    )
    assert res["present"]["text"] and res["inputs"]["transcript"] == WAV_TEXT


def test_checkpoint_dims_mismatch(pipeline, media_dir):
    from robustmsa.media.predict import predict_media

    info = DatasetInfo(
        name="mosi_bclstm",
        dims={"text": 300, "audio": 5, "vision": 20},
        seq_lens={"text": 50, "audio": 50, "vision": 50},
    )
    with pytest.raises(CheckpointError, match="expects text features of width 300.*produces 384"):
        predict_media(
            "b.pt", audio=str(media_dir / WAV), pipeline=pipeline, predictor=FakePredictor(info)
        )


def test_checkpoint_extractor_config_mismatch(pipeline, media_dir):
    from robustmsa.media.predict import predict_media

    desc = pipeline.describe()
    desc["vision"]["config"]["fps"] = 15.0
    with pytest.raises(CheckpointError, match=r"vision extractor differs.*config.fps"):
        predict_media(
            "c.pt",
            audio=str(media_dir / WAV),
            pipeline=pipeline,
            predictor=FakePredictor(make_info(desc)),
        )


def test_pipeline_rebuilt_from_checkpoint(media_extra, media_dir):
    from robustmsa.media.predict import format_prediction, predict_media
    from robustmsa.media.registry import build_extractor

    audio50 = build_extractor("psf", rate_hz=50).describe()
    fake = FakePredictor(make_info({"audio": audio50}))
    res = predict_media(
        "a.pt",
        video=str(media_dir / OZ_VIDEO),
        transcript="hi",
        predictor=fake,
        return_features=True,
    )
    assert res["present"] == {"audio": True}
    assert res["features"]["audio"].shape[0] == pytest.approx(372, abs=2)  # 7.4 s at 50 Hz
    assert res["modalities"]["vision"]["reason"] == "not used by this model"
    assert "vision  -        not used by this model" in format_prediction(res)

    egemaps = {
        "name": "egemaps",
        "modality": "audio",
        "dim": 25,
        "version": 1,
        "config": {"sample_rate": 16000, "rate_hz": 100.0},
        "runtime": {},
    }
    try:
        import opensmile  # noqa: F401
    except ImportError:
        with pytest.raises(CheckpointError, match="cannot rebuild the feature extractors"):
            predict_media(
                "e.pt",
                audio=str(media_dir / WAV),
                predictor=FakePredictor(make_info({"audio": egemaps})),
            )


def test_predict_scores_are_floats(pipeline, media_dir):
    from robustmsa.media.predict import predict_media

    class Regressor(FakePredictor):
        def predict_features(self, features, present):
            return {"score": np.float32(0.5), "probs": None, "class_names": None}

    res = predict_media(
        "r.pt",
        audio=str(media_dir / WAV),
        transcript=WAV_TEXT,
        pipeline=pipeline,
        predictor=Regressor(make_info(pipeline.describe())),
    )
    assert isinstance(res["score"], float) and res["probs"] is None


class LeadStylePredictor:
    """Attributes as in ``robustmsa.inference.Predictor``: ``info_`` and ``extractor``."""

    def __init__(self, info: DatasetInfo, extractor: dict) -> None:
        self.info_ = info
        self.checkpoint_ = {"extractor": extractor}

    @property
    def extractor(self) -> dict:
        return dict(self.checkpoint_.get("extractor") or {})

    def predict_features(self, features, present=None):
        return {"score": 0.0, "probs": None, "class_names": [], "modalities_used": list(features)}


def test_lead_style_predictor_attributes(pipeline, media_dir):
    from robustmsa.media.predict import predict_media
    from robustmsa.media.provenance import extractor_config

    desc = pipeline.describe()
    plain = DatasetInfo(name="x", dims={"audio": 41}, seq_lens={"audio": 900})
    # 1. configuration in the checkpoint's "extractor" entry
    p1 = LeadStylePredictor(plain, {"audio": desc["audio"]})
    assert extractor_config(p1) == {"audio": desc["audio"]}
    res = predict_media("l.pt", audio=str(media_dir / WAV), pipeline=pipeline, predictor=p1)
    assert res["present"] == {"audio": True} and res["class_names"] is None
    # 2. empty "extractor" entry: read from the dataset info's notes
    p2 = LeadStylePredictor(make_info({"audio": desc["audio"]}), {})
    assert extractor_config(p2)["audio"]["name"] == "psf"
    # 3. neither: defaults are assumed, widths still checked
    p3 = LeadStylePredictor(plain, {})
    assert extractor_config(p3) is None
    assert predict_media("l.pt", audio=str(media_dir / WAV), predictor=p3)["present"]["audio"]
