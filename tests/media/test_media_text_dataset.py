"""Text-only datasets from the real MOSI / MOSEI transcripts (small slices)."""

from __future__ import annotations

import csv

import pytest

from robustmsa.data.schema import load_dataset


@pytest.fixture(scope="module")
def text_pipeline(pipeline):
    from robustmsa.media.pipeline import MediaPipeline

    return MediaPipeline({"text": pipeline.extractors["text"]})


@pytest.mark.parametrize(
    "fname,valid_mode", [("mosi_label.csv", "dev"), ("mosei_label.csv", "valid")]
)
def test_text_dataset_slice(labels_dir, text_pipeline, tmp_path, fname, valid_mode):
    from robustmsa.media.extract_dataset import extract_text_dataset
    from robustmsa.media.provenance import read_dataset_extractors

    rep = extract_text_dataset(
        labels_dir / fname, tmp_path / "t.npz", pipeline=text_pipeline, limit=4, progress=False
    )
    assert rep.n_ok == 12
    ds = load_dataset(rep.out)
    assert ds.info.dims == {"text": 384}
    assert {s: len(sp) for s, sp in ds.splits.items()} == {"train": 4, "valid": 4, "test": 4}
    with open(labels_dir / fname, newline="") as fh:
        rows = list(csv.DictReader(fh))
    expect = {}
    for r in rows:
        sid = r["id"] if "id" in r else f"{r['video_id']}_{r['clip_id']}"
        expect[sid] = (float(r["label"]), r["mode"])
    for split, mode in (("train", "train"), ("valid", valid_mode), ("test", "test")):
        sp = ds[split]
        for sid, lab in zip(sp.ids.tolist(), sp.labels.tolist(), strict=True):
            assert expect[sid][1] == mode and lab == pytest.approx(expect[sid][0], abs=1e-6)
        assert (sp.lengths["text"] >= 3).all()
    assert read_dataset_extractors(rep.out)["text"]["dim"] == 384


def test_cli_text_only(labels_dir, media_extra, tmp_path, capsys):
    from robustmsa.cli import main

    out = tmp_path / "mosi_text.npz"
    rc = main(
        [
            "extract",
            "--labels",
            str(labels_dir / "mosi_label.csv"),
            "--text-only",
            "--out",
            str(out),
            "--limit",
            "3",
            "--max-len",
            "text=20",
            "--no-progress",
        ]
    )
    assert rc == 0 and "9/9 clips" in capsys.readouterr().out
    ds = load_dataset(out)
    assert ds.info.seq_lens == {"text": 20} and ds["test"].features["text"].shape == (3, 20, 384)
