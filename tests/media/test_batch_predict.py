"""Batch prediction over a folder of clips, the one-clip shortcut, polarity and log silencing.

The folder tests run the real model of the zoo ``clips`` recipe (`clips_model`) on
``../shared/media`` as shipped (flat ``{video_id}_{clip}.ext`` files).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest
from media_consts import OZ_TEXT, OZ_VIDEO, WAV

from robustmsa.errors import DataError
from robustmsa.media.batch import (
    COLUMNS,
    ClipPredictor,
    find_media,
    predict_dir,
    read_transcripts,
    write_rows,
)
from robustmsa.media.predict import neutral_band, polarity
from robustmsa.media.quiet import filter_noise, quiet_native


def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"")
    return p


def test_find_media_accepts_flat_and_mmsa_fet_layouts(tmp_path):
    _touch(tmp_path / "vidA_3.mp4")
    _touch(tmp_path / "vidB_1.wav")
    _touch(tmp_path / "notes.txt")  # not a clip
    _touch(tmp_path / "Raw" / "vidC" / "2.mp4")
    _touch(tmp_path / "vidD" / "7.mkv")
    items = find_media(tmp_path)
    assert [i.id for i in items] == ["vidA_3", "vidB_1", "vidC_2", "vidD_7"]
    assert [i.is_audio for i in items] == [False, True, False, False]


def test_find_media_errors_name_the_folder(tmp_path):
    with pytest.raises(DataError, match="no clips"):
        find_media(tmp_path)
    with pytest.raises(DataError, match="not found"):
        find_media(tmp_path / "nope")
    _touch(tmp_path / "v_1.mp4")
    _touch(tmp_path / "v" / "1.mp4")
    with pytest.raises(DataError, match="'v_1' names two files"):
        find_media(tmp_path)


def test_read_transcripts_both_layouts(tmp_path, labels_dir):
    t = read_transcripts(labels_dir / "mosi_label.csv")
    assert t["Oz06ZWiO20M_6"] == OZ_TEXT
    f = tmp_path / "t.csv"
    f.write_text("video_id,clip_id,text\nabc,4,hello there\n")
    assert read_transcripts(f) == {"abc_4": "hello there"}
    f.write_text("name,words\nx,y\n")
    with pytest.raises(DataError, match="needs columns id"):
        read_transcripts(f)


def test_neutral_band_and_polarity():
    assert neutral_band((-3.0, 3.0)) == 0.5  # what Acc-7 bins as 0 on MOSI's scale
    assert neutral_band((-1.0, 1.0)) == pytest.approx(1 / 6)
    assert polarity(-0.025, 0.5) == "neutral"  # the example
    assert polarity(0.5, 0.5) == "neutral" and polarity(0.51, 0.5) == "positive"
    assert polarity(-0.8, 0.5) == "negative"


def test_write_rows_csv_and_jsonl(tmp_path):
    row = dict.fromkeys(COLUMNS)
    row.update(id="a_1", score=0.5, used=["text", "audio"], missing=["vision"],
               reason={"vision": "no video given"})
    write_rows([row], tmp_path / "p.csv")
    got = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert got[0]["used"] == "text+audio" and got[0]["reason"] == "vision: no video given"
    write_rows([row], tmp_path / "p.jsonl")
    assert json.loads((tmp_path / "p.jsonl").read_text())["missing"] == ["vision"]


def test_quiet_native_drops_only_third_party_lines(capfd):
    noise = ("W0000 00:00:1796161944.123679    1016 inference_feedback_manager.cc:114] Feedback "
             "manager requires a model with a single signature inference.\n"
             "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
             "WARNING: All log messages before absl::InitializeLog() is called are written to "
             "STDERR\n"
             "USDT:2026-12-01 23:14:18 31127:31127 SyncActivityProfilerHandler.cpp:52] "
             "profiler_start\n")
    assert filter_noise(noise + "ours\n") == "ours\n"
    with quiet_native(True):
        os.write(2, noise.encode())
        os.write(2, b"kept line\n")
    err = capfd.readouterr().err
    assert "kept line" in err and "TensorFlow" not in err and "W0000" not in err
    with quiet_native(False):  # what -v does
        os.write(2, noise.encode())
    assert "TensorFlow" in capfd.readouterr().err
    print("after", file=sys.stderr)  # fd 2 is restored
    assert "after" in capfd.readouterr().err


def test_predict_dir_on_shared_media(clips_model, pipeline, media_dir, labels_dir, tmp_path):
    cp = ClipPredictor(clips_model, pipeline=pipeline)
    out = tmp_path / "preds.csv"
    rows = predict_dir(clips_model, media_dir, transcripts=labels_dir / "mosi_label.csv",
                       out=out, progress=False, predictor=cp)
    by_id = {r["id"]: r for r in rows}
    # one row per clip of the folder, flat layout as shipped
    assert set(by_id) == {"Oz06ZWiO20M_6", "03bSnISJMiM_1", "openvna_mosi_clip", "openvna_test"}
    oz = by_id["Oz06ZWiO20M_6"]
    assert oz["used"] == ["text", "audio", "vision"] and oz["error"] is None
    assert oz["model_split"] == "train"  # the model card lists it among the training ids
    wav = by_id["03bSnISJMiM_1"]
    assert wav["used"] == ["text", "audio"] and wav["reason"] == {"vision": "no video given"}
    assert wav["model_split"] is None  # a test clip of that model
    # transcript from the .txt next to the clip; none for openvna_test
    assert "text" in by_id["openvna_mosi_clip"]["used"]
    assert by_id["openvna_test"]["reason"]["text"] == "no transcript given"
    assert all(r["polarity"] in ("negative", "neutral", "positive") for r in rows)
    assert len(list(csv.DictReader(out.open()))) == 4


def test_predict_dir_logs_a_bad_clip_and_goes_on(clips_model, pipeline, media_dir, tmp_path,
                                                 caplog):
    (tmp_path / "good_1.wav").symlink_to(media_dir / WAV)
    (tmp_path / "bad_1.mp4").write_bytes(b"this is not a video")
    rows = predict_dir(clips_model, tmp_path, out=tmp_path / "p.jsonl", progress=False,
                       predictor=ClipPredictor(clips_model, pipeline=pipeline))
    by_id = {r["id"]: r for r in rows}
    assert by_id["bad_1"]["error"] and by_id["bad_1"]["score"] is None
    assert by_id["good_1"]["error"] is None and by_id["good_1"]["used"] == ["audio"]
    assert "bad_1 failed" in caplog.text
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 2


def test_single_clip_report_says_polarity_band_and_training_split(clips_model, pipeline,
                                                                 media_dir):
    from robustmsa.media.predict import format_prediction, predict_media

    res = predict_media(str(clips_model), video=media_dir / OZ_VIDEO, transcript=OZ_TEXT,
                        pipeline=pipeline)
    assert res["clip_id"] == "Oz06ZWiO20M_6" and res["model_split"] == "train"
    out = format_prediction(res)
    assert f"({res['polarity']}; scale -3 to 3, neutral when |score| <= 0.5)" in out
    assert "Note: clip Oz06ZWiO20M_6 is in this model's training split" in out
    res = predict_media(str(clips_model), video=media_dir / OZ_VIDEO, pipeline=pipeline,
                        clip_id="someone_else", band=0.0)
    assert res["model_split"] is None and res["neutral_band"] == 0.0
    assert "Note:" not in format_prediction(res)
