"""Format auto-detection, `load_data`, and the guarantees every reader shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from msa_pickle_writers import write_pickle

from robustmsa.data import (
    BUILTIN_NAMES,
    detect_format,
    load_data,
    read_fet_dataset,
    read_fet_features,
    read_mmsa_pickle,
    read_mult_pickle,
    read_path,
    safe_load_pickle,
    save_dataset,
)
from robustmsa.errors import DataError

PICKLE_READERS = [safe_load_pickle, read_mmsa_pickle, read_mult_pickle, read_fet_features,
                  read_fet_dataset, read_path, load_data, detect_format]


@pytest.mark.parametrize("reader", PICKLE_READERS, ids=lambda f: f.__name__)
def test_every_reader_refuses_code_execution(evil_pickles, reader) -> None:
    paths, marker = evil_pickles
    for kind, path in paths.items():
        with pytest.raises(DataError) as e:
            reader(path)
        msg = str(e.value)
        assert str(path) in msg and "refused to unpickle global" in msg, (kind, msg)
        assert ("eval" in msg) if kind == "builtins.eval" or kind == "nested-mult" else (
            "system" in msg)
    assert not marker.exists()


def test_detect_format(write_mmsa, write_mult, tmp_path: Path) -> None:
    assert detect_format(write_mmsa("aligned")) == "pickle:mmsa"
    assert detect_format(write_mmsa("sims", name="unaligned_39.pkl")) == "pickle:mmsa"
    assert detect_format(write_mult()) == "pickle:mult"
    ds = read_path(write_mult())
    npz = save_dataset(ds, tmp_path / "own.npz")
    assert detect_format(npz) == "robustmsa"
    assert detect_format(npz.with_suffix(".json")) == "robustmsa"
    back = load_data(npz)
    np.testing.assert_array_equal(back["test"].features["text"], ds["test"].features["text"])


def test_forced_format(write_mmsa) -> None:
    path = write_mmsa("aligned")
    assert read_path(path, format="mmsa").info.dims["text"] == 16
    with pytest.raises(DataError, match="unknown pickle format 'csv'"):
        read_path(path, format="csv")


def test_unrecognised_layouts(tmp_path: Path) -> None:
    p = write_pickle({"train": {"text": np.zeros((2, 3, 4))}}, tmp_path / "nolabels.pkl")
    with pytest.raises(DataError, match=r"\[train\]: missing label key") as e:
        load_data(p)
    assert str(p) in str(e.value)
    p = write_pickle({"weights": np.zeros(3)}, tmp_path / "other.pkl")
    with pytest.raises(DataError, match="unrecognised pickle layout") as e:
        load_data(p)
    assert str(p) in str(e.value) and "weights" in str(e.value)


@pytest.mark.parametrize(
    ("name", "content", "expect"),
    [("image.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "PNG"),
     ("notes.txt", b"just some text\n", "not a pickle"),
     ("data.pkl", b"\x80\x04\x95garbage", "corrupt or truncated"),
     ("data.npz", b"not a zip", "sidecar"),
     ("data.json", b"{not json", "not valid JSON")],
)
def test_wrong_file_types_through_load_data(tmp_path: Path, name: str, content: bytes,
                                            expect: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    if name == "data.json":
        (tmp_path / "data.npz").write_bytes(b"x")
    with pytest.raises(DataError, match=expect) as e:
        load_data(p)
    assert p.stem in str(e.value)


def test_npz_that_is_not_a_zip(tmp_path: Path, write_mult) -> None:
    npz = save_dataset(read_path(write_mult()), tmp_path / "ok.npz")
    npz.write_bytes(b"\x80\x04garbage")
    with pytest.raises(DataError, match="not a readable .npz") as e:
        load_data(npz)
    assert str(npz) in str(e.value)


def test_unknown_names_and_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a built-in dataset") as e:
        load_data("no_such_dataset")
    assert "synthetic:small" in str(e.value) and "mosi_bclstm" in str(e.value)
    with pytest.raises(DataError, match="unknown synthetic preset 'huge'"):
        load_data("synthetic:huge")
    (tmp_path / "newset").mkdir()
    (tmp_path / "newset" / "README.md").write_text("# a new dataset\n")
    with pytest.raises(DataError, match="no reader recognises this folder") as e:
        load_data(tmp_path / "newset")
    assert "README" in str(e.value) and "newset" in str(e.value)
    assert "synthetic" in BUILTIN_NAMES and "mosi_bclstm" in BUILTIN_NAMES


def test_synthetic_names(tmp_path: Path) -> None:
    small = load_data("synthetic:small", seed=3)
    assert small.info.name == "synthetic:small" and len(small["train"]) == 300
    again = load_data("synthetic:small", seed=3)
    np.testing.assert_array_equal(small["test"].features["audio"],
                                  again["test"].features["audio"])
