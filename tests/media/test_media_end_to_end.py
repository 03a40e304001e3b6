"""The whole raw-media path with a real model: clips -> `extract` -> `train` -> `predict`.

The checkpoint is trained (two epochs, tiny backbone) on a dataset extracted from the fixture
clips; predictions come from the real `Predictor`, not a stand-in, so the extractor
configuration must travel from the dataset into the checkpoint and back into `predict`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from media_consts import OPENVNA_CLIP, OZ_TEXT, OZ_VIDEO, WAV, WAV_TEXT

from robustmsa.cli import main

TINY = ["train.epochs=2", "train.batch_size=4", "train.progress=false", "task.kind=regression",
        "train.select_metric=MAE", "model.d_model=8", "model.num_heads=2", "model.num_layers=1",
        "model.ffn_dim=8"]


@pytest.fixture(scope="module")
def trained(pipeline, media_dir, tmp_path_factory) -> tuple[Path, Path]:
    """(dataset path, checkpoint path) built from the three fixture clips."""
    from robustmsa.media.extract_dataset import extract_dataset

    root = tmp_path_factory.mktemp("e2e")
    clips = root / "clips"
    for vid, clip, src in (("Oz06ZWiO20M", "6.mp4", OZ_VIDEO),
                           ("openvna", "mosi_clip.mp4", OPENVNA_CLIP),
                           ("03bSnISJMiM", "1.wav", WAV)):
        (clips / vid).mkdir(parents=True)
        (clips / vid / clip).symlink_to(media_dir / src)
    (clips / "label.csv").write_text(
        "video_id,clip_id,text,label,mode\n"
        f"Oz06ZWiO20M,6,{OZ_TEXT},-0.8,train\n"
        "openvna,mosi_clip,he is one of my favorite actors ever,1.5,valid\n"
        f"03bSnISJMiM,1,{WAV_TEXT},2.4,test\n"
    )
    data = root / "clips.npz"
    rep = extract_dataset(clips / "label.csv", data, pipeline=pipeline, progress=False)
    assert (rep.n_ok, rep.n_failed) == (3, 0)
    run = root / "run"
    assert main(["train", "method=teacher", f"data.source={data}", *TINY, "--out", str(run)]) == 0
    return data, run / "best.pt"


def test_checkpoint_carries_the_dataset_extractors(trained):
    from robustmsa.media.provenance import read_dataset_extractors

    data, ckpt = trained
    stored = torch.load(ckpt, map_location="cpu", weights_only=True)["extractor"]
    sidecar = read_dataset_extractors(data)
    # the checkpoint holds the configuration without the (derivable) column names
    assert stored == {m: {k: v for k, v in d.items() if k != "columns"} for m, d in sidecar.items()}
    assert set(stored) == {"text", "audio", "vision"} and stored["vision"]["name"] == "facemesh"


def test_cli_predict_full_clip_json(trained, media_dir, capsys):
    _, ckpt = trained
    capsys.readouterr()
    rc = main(["predict", "-c", str(ckpt), "--video", str(media_dir / OZ_VIDEO),
               "--transcript", OZ_TEXT, "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["present"] == {"text": True, "audio": True, "vision": True}
    assert res["missing"] == {}
    assert isinstance(res["score"], float) and -3.0 <= res["score"] <= 3.0


def test_predict_audio_only_wav(trained, pipeline, media_dir):
    from robustmsa.media.predict import format_prediction, predict_media

    _, ckpt = trained
    res = predict_media(ckpt, audio=str(media_dir / WAV), pipeline=pipeline)
    assert res["present"] == {"text": False, "audio": True, "vision": False}
    assert set(res["missing"]) == {"text", "vision"}
    assert "audio   used" in format_prediction(res)


def test_predict_video_with_audio_stripped(trained, pipeline, stripped_video):
    from robustmsa.media.predict import predict_media

    _, ckpt = trained
    res = predict_media(ckpt, video=str(stripped_video), transcript=OZ_TEXT, pipeline=pipeline)
    assert res["present"] == {"text": True, "audio": False, "vision": True}
    assert "audio" in res["missing"] and "no audio stream" in res["missing"]["audio"]


def test_predictions_depend_on_what_the_clip_carries(trained, pipeline, media_dir):
    """Dropping the transcript changes the model input, hence (for a trained net) the score."""
    from robustmsa.media.predict import predict_media

    _, ckpt = trained
    full = predict_media(ckpt, video=str(media_dir / OZ_VIDEO), transcript=OZ_TEXT,
                         pipeline=pipeline)
    no_text = predict_media(ckpt, video=str(media_dir / OZ_VIDEO), pipeline=pipeline)
    assert no_text["present"]["text"] is False and no_text["missing"]["text"]
    assert full["score"] != no_text["score"]


def test_extractor_mismatch_is_refused(trained, pipeline, media_dir):
    """A pipeline with other settings than the checkpoint's gives a clear error."""
    from robustmsa.errors import CheckpointError
    from robustmsa.media.pipeline import MediaPipeline
    from robustmsa.media.predict import predict_media
    from robustmsa.media.registry import build_extractor

    _, ckpt = trained
    other = MediaPipeline({**pipeline.extractors, "audio": build_extractor("psf", rate_hz=50)})
    with pytest.raises(CheckpointError, match="audio extractor differs"):
        predict_media(ckpt, audio=str(media_dir / WAV), pipeline=other)


def test_cli_predict_transcript_only(trained, capsys):
    _, ckpt = trained
    capsys.readouterr()
    assert main(["predict", "-c", str(ckpt), "--transcript", WAV_TEXT, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["present"] == {"text": True, "audio": False, "vision": False}
    assert res["missing"] == {"audio": "no audio given", "vision": "no video given"}
    rc = main(["predict", "-c", str(ckpt), "--transcript", WAV_TEXT, "--data", "synthetic:small"])
    err = capsys.readouterr().err
    assert rc == 2 and "not both" in err and "Traceback" not in err
