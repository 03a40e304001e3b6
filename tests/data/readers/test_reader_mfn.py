"""MFN HDF5 readers on small generated folders (same layout as ../shared/data/*_mfn: zero steps
at the start, the end and in the middle, all-zero sequences, a split without a modality) and on
the real folders when present."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from msa_pickle_writers import SHARED_DATA
from tests.conftest import make_tiny_dataset

from robustmsa.cli import main
from robustmsa.data import BUILTIN_NAMES, detect_format, load_data, read_mfn, save_dataset
from robustmsa.data.dataset import collate_rows
from robustmsa.data.natural import natural_missing
from robustmsa.errors import DataError

SIZES = {"train": 6, "valid": 4, "test": 5}


def _h5(path: Path, x: np.ndarray, key: str = "d1") -> None:
    with h5py.File(path, "w") as fh:
        fh.create_dataset(key, data=x)


def _features(n: int, d: int, seed: int) -> np.ndarray:
    """(n, 8, d) float64 with zero steps: row 0 right-padded, row 1 left-padded, row 2 a gap
    in the middle, row 3 all zero."""
    x = np.random.default_rng(seed).normal(size=(n, 8, d)) + 0.5
    x[0, 6:] = 0
    x[1, :3] = 0
    x[2, 3:5] = 0
    x[3] = 0
    return x


def write_mfn(folder: Path, labels: str = "score", text_train: bool = False) -> Path:
    """An MFN-layout folder: audio (5-d) and video (3-d) everywhere, text (4-d) only in valid /
    test unless ``text_train``; labels ``score`` (N,), ``multi`` (N, 3) or ``onehot`` (N, 3)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (s, n) in enumerate(SIZES.items()):
        _h5(folder / f"audio_{s}.h5", _features(n, 5, i))
        _h5(folder / f"video_{s}.h5", _features(n, 3, 10 + i))
        if s != "train" or text_train:
            _h5(folder / f"text_{s}_emb.h5", _features(n, 4, 20 + i))
        if labels == "score":
            y = np.array([1.0, 3.5, 4.0, 5.0, 2.5, 4.5][:n])
        elif labels == "multi":
            y = np.random.default_rng(i).uniform(1, 7, (n, 3))
        else:
            y = np.eye(3, dtype=np.float32)[np.arange(n) % 3]
        _h5(folder / f"y_{s}.h5", y)
    return folder


def test_frames_lengths_presence_ids_groups(tmp_path: Path) -> None:
    ds = read_mfn(write_mfn(tmp_path / "ict_mmmo_mfn"), kind="ict_mmmo_mfn")
    assert ds.info.dims == {"text": 4, "audio": 5, "vision": 3}
    assert ds.info.label_kind == "score" and ds.info.target_names == ("score",)
    tr = ds["train"]
    # train has no text file: naturally absent for the whole split
    assert (tr.lengths["text"] == 0).all() and not tr.features["text"].any()
    a = tr.valid_mask("audio")
    assert a[0].tolist() == [True] * 6 + [False] * 2  # right padding
    assert a[1].tolist() == [False] * 3 + [True] * 5  # left padding
    assert a[2].tolist() == [True] * 3 + [False] * 2 + [True] * 3  # gap in the middle
    assert not a[3].any()  # whole sequence zero: naturally absent
    # lengths are span ends, so prefix-only code never mistakes a valid frame for padding
    assert tr.lengths["audio"][:4].tolist() == [6, 8, 8, 0]
    assert "audio" in tr.frame_valid  # not a prefix: explicit mask kept
    b = collate_rows(tr, [0, 1, 2, 3])
    np.testing.assert_array_equal(b.frame_mask["audio"].numpy(), a[:4])
    assert b.present[:, 0].tolist() == [False] * 4  # text
    assert b.present[:, 1].tolist() == [True, True, True, False]  # audio
    assert ds["test"].ids[2] == "ict_mmmo_mfn:test:2"
    np.testing.assert_array_equal(ds["test"].groups, ds["test"].ids)  # one video per sample
    nat = natural_missing(ds)
    assert nat["train"]["text"]["absent"] == 1.0 and nat["valid"]["text"]["absent"] == 0.25
    assert nat["train"]["audio"]["absent"] == pytest.approx(1 / 6)


def test_ict_binary_rule_is_strictly_above_3_5(tmp_path: Path) -> None:
    ds = read_mfn(write_mfn(tmp_path / "ict_mmmo_mfn"), kind="ict_mmmo_mfn", variant="binary")
    assert ds.info.name == "ict_mmmo_mfn:binary" and ds.info.class_names == ("negative", "positive")
    # scores 1.0, 3.5, 4.0, 5.0, 2.5, 4.5: 3.5 is negative (positive iff > 3.5)
    assert ds["train"].labels.tolist() == [0, 0, 1, 1, 0, 1]
    with pytest.raises(DataError, match="unknown variant 'ternary'"):
        read_mfn(tmp_path / "ict_mmmo_mfn", kind="ict_mmmo_mfn", variant="ternary")


def test_builtin_names_and_generic_folders(tmp_path: Path) -> None:
    assert {"ict_mmmo_mfn", "pom_mfn", "youtube_mfn"} <= set(BUILTIN_NAMES)
    assert "mfn_h5" not in BUILTIN_NAMES
    named = write_mfn(tmp_path / "pom_mfn", labels="multi")
    assert detect_format(named) == "folder:pom_mfn"
    pom = load_data(named)
    assert pom.info.label_kind == "multi" and pom.info.target_names == ("col00", "col01", "col02")
    assert pom["train"].labels.shape == (6, 3) and len(pom.info.target_mean) == 3
    other = write_mfn(tmp_path / "my_release", labels="onehot", text_train=True)
    assert detect_format(other) == "folder:mfn_h5"
    gen = load_data(other)
    assert gen.info.label_kind == "class" and gen["valid"].labels.tolist() == [0, 1, 2, 0]
    assert gen["train"].groups is None  # unknown grouping
    yt = load_data(write_mfn(tmp_path / "youtube_mfn", labels="onehot"))
    assert yt.info.class_names == ("negative", "neutral", "positive")


def test_npz_round_trip_keeps_frame_masks(tmp_path: Path, capsys) -> None:
    folder = write_mfn(tmp_path / "ict_mmmo_mfn")
    assert main(["data", "convert", str(folder), "--out", str(tmp_path / "ict.npz")]) == 0
    back = load_data(tmp_path / "ict.npz")
    ds = load_data(folder)
    for s in ds.splits:
        for m in ds[s].modalities:
            np.testing.assert_array_equal(back[s].valid_mask(m), ds[s].valid_mask(m))
    assert back.info.target_names == ("score",)
    # an old-style split without frame masks is unchanged (prefix masks)
    plain = save_dataset(make_tiny_dataset(), tmp_path / "tiny.npz")
    assert not any(sp.frame_valid for sp in load_data(plain).splits.values())
    capsys.readouterr()
    assert main(["data", "info", str(folder), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    tr = s["splits"]["train"]["modalities"]
    assert tr["text"]["natural_missing"]["absent"] == 1.0 and tr["audio"]["frame_mask"] == "explicit"
    assert main(["data", "info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "naturally absent 100.0%" in out and "explicit frame mask" in out


@pytest.mark.parametrize("fault, message", [
    ("no_valid_labels", "y_valid.h5: label file not found"),
    ("rows", "audio_test.h5: 4 rows but y_test.h5 has 5"),
    ("key", "video_valid.h5: no dataset 'd1' (keys: features)"),
    ("nan", "audio_train.h5: dataset 'd1' contains NaN"),
    ("width", "audio_valid.h5: shape (T, D) = (8, 2)"),
    ("not_h5", "text_test_emb.h5: not a readable HDF5 file"),
])
def test_bad_files_one_line_errors(tmp_path: Path, fault: str, message: str) -> None:
    folder = write_mfn(tmp_path / "ict_mmmo_mfn")
    if fault == "no_valid_labels":
        (folder / "y_valid.h5").unlink()
    elif fault == "rows":
        _h5(folder / "audio_test.h5", _features(4, 5, 0))
    elif fault == "key":
        _h5(folder / "video_valid.h5", _features(4, 3, 0), key="features")
    elif fault == "nan":
        x = _features(6, 5, 0)
        x[2, 1, 0] = np.nan
        _h5(folder / "audio_train.h5", x)
    elif fault == "width":
        _h5(folder / "audio_valid.h5", _features(4, 2, 0))
    else:
        (folder / "text_test_emb.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError) as e:
        load_data(folder)
    assert message in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------------- real folders
def _real(name: str) -> Path:
    d = SHARED_DATA / name
    if not (d / "y_train.h5").is_file():
        pytest.skip(f"real data not available: {d} is absent (needs ../shared/data/{name})")
    return d


def test_real_ict_mmmo() -> None:
    _real("ict_mmmo_mfn")
    ds = load_data("ict_mmmo_mfn:binary")
    assert {s: len(sp) for s, sp in ds.splits.items()} == {"train": 220, "valid": 40, "test": 80}
    assert ds.info.dims == {"text": 300, "audio": 74, "vision": 36}
    assert (ds["train"].lengths["text"] == 0).all() and (ds["test"].lengths["text"] > 0).all()
    # README: neg/pos train 100/120, valid 15/25, test 29/51; vision averages 16.4 valid steps
    assert [int(ds[s].labels.sum()) for s in ("train", "valid", "test")] == [120, 25, 51]
    assert ds["train"].valid_mask("vision").sum(1).mean() == pytest.approx(16.4, abs=0.05)


def test_real_pom_and_youtube() -> None:
    _real("pom_mfn")
    _real("youtube_mfn")
    pom = load_data("pom_mfn")
    assert pom.info.modalities == ("audio", "vision") and pom["train"].labels.shape == (600, 17)
    # README: vision all-zero for 322/600 train, 48/100 valid, 116/203 test; audio never
    assert [int((pom[s].lengths["vision"] == 0).sum()) for s in ("train", "valid", "test")] \
        == [322, 48, 116]
    assert all((pom[s].lengths["audio"] > 0).all() for s in pom.splits)
    yt = load_data("youtube_mfn")
    assert [int((yt[s].lengths["audio"] == 0).sum()) for s in ("train", "valid", "test")] \
        == [125, 29, 37]
    assert int((yt["valid"].lengths["text"] == 0).sum()) == 1
    assert np.bincount(yt["test"].labels).tolist() == [27, 21, 12]
