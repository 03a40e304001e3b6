"""`extract_dataset` / `robustmsa extract`: layouts, failures, resumability, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from media_consts import OPENVNA_CLIP, OZ_TEXT, OZ_VIDEO, WAV, WAV_TEXT

from robustmsa.data.schema import load_dataset
from robustmsa.errors import DataError


@pytest.fixture
def clip_folder(media_dir, tmp_path) -> Path:
    """A tiny MMSA-FET folder: both layouts, a wav, a corrupt clip and a missing clip."""
    root = tmp_path / "MOSI_tiny"
    (root / "Raw" / "Oz06ZWiO20M").mkdir(parents=True)
    (root / "Raw" / "Oz06ZWiO20M" / "6.mp4").symlink_to(media_dir / OZ_VIDEO)
    (root / "openvna").mkdir()
    (root / "openvna" / "mosi_clip.mp4").symlink_to(media_dir / OPENVNA_CLIP)
    (root / "Raw" / "03bSnISJMiM").mkdir()
    (root / "Raw" / "03bSnISJMiM" / "1.wav").symlink_to(media_dir / WAV)
    (root / "Raw" / "broken").mkdir()
    (root / "Raw" / "broken" / "1.mp4").write_bytes(b"\x00\x01garbage" * 500)
    (root / "label.csv").write_text(
        "video_id,clip_id,text,label,mode\n"
        f"Oz06ZWiO20M,6,{OZ_TEXT},-0.8,train\n"
        "openvna,mosi_clip,he is one of my favorite actors every,1.5,valid\n"
        f"03bSnISJMiM,1,{WAV_TEXT},2.4,test\n"
        "broken,1,this file is corrupt,0.0,test\n"
        "absent,7,there is no file,1.0,train\n"
    )
    return root


class CountingPipeline:
    """Wraps a pipeline, counts `extract` calls and can interrupt after N calls."""

    def __init__(self, inner, interrupt_after: int | None = None) -> None:
        self.inner, self.calls, self.interrupt_after = inner, 0, interrupt_after
        self.extractors = inner.extractors
        self.align = inner.align

    def describe(self):
        return self.inner.describe()

    @property
    def dims(self):
        return self.inner.dims

    def extract(self, **kw):
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        return self.inner.extract(**kw)


def test_extract_resumable_with_failures(pipeline, clip_folder, tmp_path):
    from robustmsa.media.extract_dataset import extract_dataset
    from robustmsa.media.provenance import extractor_config, read_dataset_extractors

    out = tmp_path / "out" / "tiny.npz"
    work = tmp_path / "out" / "tiny.parts"
    labels = clip_folder / "label.csv"

    # 1. interrupted after the first clip: nothing written but that clip's part
    crashing = CountingPipeline(pipeline, interrupt_after=1)
    with pytest.raises(KeyboardInterrupt):
        extract_dataset(labels, out, pipeline=crashing, progress=False)
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert sorted(p.name for p in work.glob("*.npz")) == ["Oz06ZWiO20M_6.npz"]
    mtime = (work / "Oz06ZWiO20M_6.npz").stat().st_mtime_ns

    # 2. resumed: the first clip comes from the cache; bad clips are logged and skipped
    counting = CountingPipeline(pipeline)
    rep = extract_dataset(labels, out, pipeline=counting, progress=False, pad="max")
    # the absent clip is counted apart (a folder often holds only some of the label file's clips)
    assert (rep.n_rows, rep.n_ok, rep.n_cached, rep.n_failed, rep.n_no_media) == (5, 3, 1, 1, 1)
    assert counting.calls == 3  # openvna, wav, broken (the absent clip fails before extract)
    assert (work / "Oz06ZWiO20M_6.npz").stat().st_mtime_ns == mtime
    fails = [json.loads(x) for x in rep.failures.read_text().splitlines()]
    assert {f["id"] for f in fails} == {"broken_1", "absent_7"}
    assert any("1.mp4" in f["error"] for f in fails)
    assert any("no media file for absent_7" in f["error"] for f in fails)
    assert rep.missing == {"text": 0, "audio": 0, "vision": 1}

    ds = load_dataset(out)
    assert ds.info.dims == {"text": 384, "audio": 41, "vision": 1441}
    assert {s: len(sp) for s, sp in ds.splits.items()} == {"train": 1, "valid": 1, "test": 1}
    tr, te = ds["train"], ds["test"]
    assert tr.ids.tolist() == ["Oz06ZWiO20M_6"] and tr.labels[0] == pytest.approx(-0.8)
    assert te.lengths["vision"][0] == 0 and te.lengths["audio"][0] == 332  # wav: audio only
    assert not te.features["vision"].any()
    assert tr.lengths["vision"][0] == 75 == ds.info.seq_lens["vision"]
    assert ds.info.seq_lens["audio"] == max(
        int(ds[s].lengths["audio"][0]) for s in ("train", "valid", "test")
    )
    ext = read_dataset_extractors(out)
    assert ext["vision"]["name"] == "facemesh" and ext["audio"]["dim"] == 41
    via_info = extractor_config(ds.info)  # the marker line in info.notes survives loading
    assert via_info["text"]["config"] == ext["text"]["config"]
    assert not list(out.parent.glob(".*tmp*"))  # no temporary files left behind
    from robustmsa.fileio import default_file_mode

    for f in (out, out.with_suffix(".json"), work / "Oz06ZWiO20M_6.npz"):
        assert f.stat().st_mode & 0o777 == default_file_mode()  # not mkstemp's 0o600

    # 3. third run: everything cached, only the broken clip is retried
    counting = CountingPipeline(pipeline)
    rep = extract_dataset(labels, out, pipeline=counting, progress=False)
    assert (rep.n_cached, rep.n_failed, rep.n_no_media, counting.calls) == (3, 1, 1, 1)

    # 4. an unreadable cached part is extracted again
    (work / "Oz06ZWiO20M_6.npz").write_bytes(b"truncated")
    counting = CountingPipeline(pipeline)
    rep = extract_dataset(labels, out, pipeline=counting, progress=False)
    assert (rep.n_cached, rep.n_ok, counting.calls) == (2, 3, 2)

    # 5. a clip whose transcript changed in the label file is extracted again
    labels.write_text(labels.read_text().replace("favorite actors every", "favorite actors ever"))
    counting = CountingPipeline(pipeline)
    rep = extract_dataset(labels, out, pipeline=counting, progress=False)
    assert (rep.n_cached, rep.n_ok, counting.calls) == (2, 3, 2)


def test_work_dir_refuses_other_settings(pipeline, clip_folder, tmp_path, media_extra):
    from robustmsa.media.extract_dataset import extract_dataset
    from robustmsa.media.pipeline import MediaPipeline
    from robustmsa.media.registry import build_extractor

    work = tmp_path / "w"
    lite = MediaPipeline({"audio": pipeline.extractors["audio"]})
    rep = extract_dataset(
        clip_folder / "label.csv", tmp_path / "a.npz", pipeline=lite, work_dir=work, progress=False
    )
    assert rep.n_ok == 3 and load_dataset(rep.out).info.dims == {"audio": 41}
    other = MediaPipeline({"audio": build_extractor("psf", rate_hz=50)})
    with pytest.raises(DataError, match="other extractor settings"):
        extract_dataset(
            clip_folder / "label.csv",
            tmp_path / "a.npz",
            pipeline=other,
            work_dir=work,
            progress=False,
        )


def test_cli_extract_audio_only_mosi_id_layout(media_extra, media_dir, tmp_path, capsys):
    from robustmsa.cli import main

    root = tmp_path / "m"
    (root / "Oz06ZWiO20M").mkdir(parents=True)
    (root / "Oz06ZWiO20M" / "6.mp4").symlink_to(media_dir / OZ_VIDEO)
    (root / "03bSnISJMiM").mkdir()
    (root / "03bSnISJMiM" / "1.wav").symlink_to(media_dir / WAV)
    labels = tmp_path / "label.csv"
    labels.write_text(
        f"id,text,label,mode\nOz06ZWiO20M_6,{OZ_TEXT},-0.8,train\n"
        f"03bSnISJMiM_1,{WAV_TEXT},2.4,dev\n"
    )
    out = tmp_path / "d.npz"
    rc = main(
        [
            "extract",
            "--labels",
            str(labels),
            "--media",
            str(root),
            "--out",
            str(out),
            "--modalities",
            "audio",
            "--audio-rate",
            "25",
            "--max-len",
            "audio=150",
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "2/2 clips" in capsys.readouterr().out
    ds = load_dataset(out)
    assert ds.info.seq_lens == {"audio": 150}
    assert ds["train"].lengths["audio"][0] == 150  # 186 frames at 25 Hz, truncated
    assert ds["valid"].lengths["audio"][0] == 83  # 332 frames at 100 Hz -> 83


def test_cli_reports_bad_label_file(tmp_path, capsys):
    from robustmsa.cli import main

    labels = tmp_path / "label.csv"
    labels.write_text("id,text,label,mode\na_1,hi,0.5,holdout\n")
    rc = main(
        [
            "extract",
            "--labels",
            str(labels),
            "--out",
            str(tmp_path / "x.npz"),
            "--modalities",
            "audio",
            "--no-progress",
        ]
    )
    assert rc == 2
    assert "label.csv:2: mode 'holdout'" in capsys.readouterr().err


def test_pad_policies():
    from robustmsa.media.assemble import Sample, build_dataset, pad_length

    assert pad_length([0, 0], "mean3std") == 1
    lens = [10] * 30 + [100]
    assert pad_length(lens, "max") == 100
    t = pad_length(lens, "mean3std")
    assert 10 < t < 100 and t == int(np.ceil(np.mean(lens) + 3 * np.std(lens)))
    samples = [
        Sample(f"s{i}", 0.1 * i, "train", {"audio": np.ones((n, 2), np.float32)})
        for i, n in enumerate([3, 5, 0])
    ]
    ds = build_dataset(
        samples, {"audio": 2}, name="t", source="mem", pad="max", max_len={"audio": 4}
    )
    assert ds["train"].lengths["audio"].tolist() == [3, 4, 0]
    assert ds["train"].features["audio"].shape == (3, 4, 2)
