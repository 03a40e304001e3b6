"""MulT / MultiBench pickles: labels (N,1,1), (N,3) ids, lengths from non-zero frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from msa_pickle_writers import DIMS, SIZES, mult_object, write_py2_pickle

from robustmsa.data import read_mult_pickle, read_path
from robustmsa.errors import DataError


@pytest.mark.parametrize("left_pad", [False, True])
def test_round_trip_lengths_and_ids(write_mult, left_pad: bool) -> None:
    right = mult_object()  # the same data, padded at the end
    ds = read_mult_pickle(write_mult(left_pad=left_pad))
    assert ds.info.dims == DIMS and set(ds.info.seq_lens.values()) == {10}
    for split, n in SIZES.items():
        sp, raw = ds[split], right[split]
        assert len(sp) == n
        for m in DIMS:
            np.testing.assert_array_equal(sp.lengths[m], raw["_lengths"])
            # left padding is moved to the end: the arrays equal the end-padded original
            np.testing.assert_array_equal(sp.features[m], raw[m])
        np.testing.assert_allclose(sp.labels, raw["labels"].reshape(-1))
        assert sp.ids[0] == "v0_0.5_2.5"


def test_python2_pickle(tmp_path: Path) -> None:
    obj = {s: {k: v for k, v in d.items() if k != "_lengths"} for s, d in mult_object().items()}
    ds = read_mult_pickle(write_py2_pickle(obj, tmp_path / "py2_mosi.pkl"))
    np.testing.assert_array_equal(ds["train"].features["vision"], obj["train"]["vision"])


def test_missing_id_gets_generated_ids(write_mult) -> None:
    def mutate(obj):
        for d in obj.values():
            del d["id"]

    ds = read_mult_pickle(write_mult(mutate))
    assert list(ds["valid"].ids) == [f"valid_{i}" for i in range(SIZES["valid"])]


def test_all_zero_sample_kept_with_length_one(write_mult) -> None:
    def mutate(obj):
        for m in DIMS:
            obj["train"][m][2] = 0

    ds = read_mult_pickle(write_mult(mutate))
    assert all(ds["train"].lengths[m][2] == 1 for m in DIMS)


BAD = {
    "missing split": (lambda o: o.pop("test"), ["missing split 'test'"]),
    "missing key": (lambda o: o["valid"].pop("vision"), ["[valid]", "missing key 'vision'"]),
    "nan": (lambda o: o["train"]["audio"].__setitem__((0, 0, 0), np.nan),
            ["[train]", "'audio'", "NaN"]),
    "inf": (lambda o: o["test"]["text"].__setitem__((1, 0, 0), np.inf),
            ["[test]", "'text'", "inf"]),
    "class labels": (lambda o: o["train"].__setitem__("labels", np.zeros((6, 4, 2))),
                     ["[train]", "'labels'", "(6, 4, 2)"]),
    "dim mismatch": (lambda o: o["valid"].__setitem__("audio", np.ones((4, 10, 6))),
                     ["'audio'", "differs across splits"]),
    "empty": (lambda o: o.__setitem__("test", {k: v[:0] for k, v in o["test"].items()}),
              ["[test]", "empty"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_and_field(write_mult, case: str) -> None:
    mutate, parts = BAD[case]
    path = write_mult(mutate)
    for reader in (read_mult_pickle, read_path):
        with pytest.raises(DataError) as e:
            reader(path)
        msg = str(e.value)
        assert str(path) in msg
        for part in parts:
            assert part in msg, (case, reader.__name__, msg)


def test_unequal_padded_lengths_use_per_modality_last_nonzero(write_mult) -> None:
    def mutate(obj):
        for d in obj.values():
            a = np.zeros((d["audio"].shape[0], 15, DIMS["audio"]), dtype=np.float32)
            a[:, :4] = 1.0
            d["audio"] = a

    ds = read_mult_pickle(write_mult(mutate))
    assert ds.info.seq_lens == {"text": 10, "audio": 15, "vision": 10}
    assert (ds["train"].lengths["audio"] == 4).all()
    np.testing.assert_array_equal(ds["train"].lengths["text"], mult_object()["train"]["_lengths"])
