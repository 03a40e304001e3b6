"""The real CMU-MOSI bc-LSTM release (skipped when ../shared/data/mosi_bclstm is absent)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from robustmsa.data import load_data, read_mosi_bclstm
from robustmsa.data.readers.mosi_bclstm import select_valid_videos, video_id
from robustmsa.errors import DataError

SEED0_VALID = ["8qrpnFRGt2A", "Bfr499ggo-0", "BioHAh1qJAQ", "HEsqda8_d0Q", "MLal-t_vJPM",
               "Qr1Ca94K55A", "c5xsKMxpXnc", "fvVhgmXxadc", "zhpQhgha_KU"]
NO_SCORE = {"2WGyTLYerpo_44", "5W7Z1C_fDaE_24", "BioHAh1qJAQ_30", "lXPQBPVc5Cw_30"}


def _release_ids(folder: Path, split: str) -> tuple[list[str], list[int]]:
    """Clip ids and binary labels of the release's own split, read straight from the CSVs."""
    with (folder / "transcripts.csv").open() as fh:
        tr = list(csv.reader(fh))
    with (folder / f"text_{split}.csv").open() as fh:
        ids = [tr[int(float(r[0]))][0] for r in csv.reader(fh)]
    with (folder / f"text_{split}0.csv").open() as fh:
        binary = [int(float(r[-1])) for r in csv.reader(fh)]
    return ids, binary


@pytest.fixture(scope="module")
def bclstm(bclstm_dir: Path):
    return read_mosi_bclstm(bclstm_dir, seed=0, labels="score")


def test_release_split_sizes(bclstm_dir: Path) -> None:
    train, _ = _release_ids(bclstm_dir, "train")
    test, _ = _release_ids(bclstm_dir, "test")
    assert (len(train), len(test)) == (1447, 752)
    assert len({video_id(c) for c in train}) == 62 and len({video_id(c) for c in test}) == 31


def test_splits_are_video_disjoint_and_use_only_the_release_split(bclstm, bclstm_dir) -> None:
    vids = {s: {video_id(c) for c in sp.ids} for s, sp in bclstm.splits.items()}
    assert not (vids["train"] & vids["valid"]) and not (vids["train"] & vids["test"])
    assert not (vids["valid"] & vids["test"])
    rel_train = {video_id(c) for c in _release_ids(bclstm_dir, "train")[0]}
    rel_test_ids, _ = _release_ids(bclstm_dir, "test")
    assert vids["valid"] <= rel_train and vids["train"] <= rel_train
    assert vids["test"] == {video_id(c) for c in rel_test_ids} and len(vids["test"]) == 31
    assert sorted(vids["valid"]) == SEED0_VALID  # the documented seed-0 carve: 9 videos
    # test = the release's 752 clips minus the one without a continuous score
    assert set(bclstm["test"].ids) == set(rel_test_ids) - NO_SCORE
    assert {s: len(sp) for s, sp in bclstm.splits.items()} == {"train": 1237, "valid": 207,
                                                               "test": 751}
    assert "4 clips without a continuous score dropped" in bclstm.info.notes


def test_shapes_and_scores_consistent_with_binary_labels(bclstm, bclstm_dir) -> None:
    assert bclstm.info.name == "mosi_bclstm" and bclstm.info.label_kind == "score"
    assert bclstm.info.dims == {"text": 100, "audio": 73, "vision": 100}
    assert bclstm.info.seq_lens == {"text": 1, "audio": 1, "vision": 1}
    binary = {}
    for s in ("train", "test"):
        ids, lab = _release_ids(bclstm_dir, s)
        binary.update(zip(ids, lab, strict=True))
    for sp in bclstm.splits.values():
        assert all(int(y >= 0) == binary[c] for c, y in zip(sp.ids, sp.labels, strict=True))
        assert (np.abs(sp.labels) <= 3).all() and (sp.lengths["text"] == 1).all()


def test_binary_mode_keeps_every_clip(bclstm_dir: Path) -> None:
    ds = read_mosi_bclstm(bclstm_dir, labels="binary")
    assert ds.info.label_kind == "class" and ds.info.class_names == ("negative", "positive")
    assert len(ds["test"]) == 752 and sum(len(sp) for sp in ds.splits.values()) == 2199
    ids, lab = _release_ids(bclstm_dir, "test")
    assert dict(zip(ds["test"].ids, ds["test"].labels.tolist(), strict=True)) == dict(
        zip(ids, lab, strict=True))


def test_valid_carve_is_seeded_and_deterministic(bclstm_dir: Path) -> None:
    vids = sorted({video_id(c) for c in _release_ids(bclstm_dir, "train")[0]})
    a = select_valid_videos(vids, seed=0, fraction=0.15)
    assert a == select_valid_videos(list(reversed(vids)), seed=0, fraction=0.15) == SEED0_VALID
    assert select_valid_videos(vids, seed=1, fraction=0.15) != a
    ds1 = load_data("mosi_bclstm", seed=1)  # built-in name resolved via ../shared/data
    assert {video_id(c) for c in ds1["valid"].ids} == set(
        select_valid_videos(vids, seed=1, fraction=0.15))


def test_missing_labels_file(bclstm_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="continuous MOSI labels not found") as e:
        read_mosi_bclstm(bclstm_dir, labels="score", labels_csv=tmp_path / "none.csv")
    assert "none.csv" in str(e.value)


def test_corrupt_csv_names_file_and_row(bclstm_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mosi_bclstm"
    shutil.copytree(bclstm_dir, folder)
    (folder / "audio_test0.csv").chmod(0o644)
    lines = (folder / "audio_test0.csv").read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[2], '"nan"', 1)
    (folder / "audio_test0.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        read_mosi_bclstm(folder, labels="binary")
    assert "audio_test0.csv" in str(e.value) and "row 5" in str(e.value)


def test_default_and_score_variant_by_name(bclstm_dir: Path) -> None:
    default = load_data("mosi_bclstm")
    assert default.info.label_kind == "class" and len(default["test"]) == 752
    score = load_data("mosi_bclstm:score")
    assert score.info.label_kind == "score" and len(score["test"]) == 751
    by_path = load_data(f"{bclstm_dir}:score")
    assert len(by_path["train"]) == len(score["train"])
