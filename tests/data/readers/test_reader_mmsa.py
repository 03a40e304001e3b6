"""MMSA feature pickles: aligned / unaligned / SIMS layouts, length inference, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from msa_pickle_writers import DIMS, SIZES, mmsa_object, write_pickle

from robustmsa.data import load_dataset, read_mmsa_pickle, save_dataset
from robustmsa.errors import DataError


@pytest.mark.parametrize("kind", ["aligned", "unaligned", "sims"])
def test_round_trip_and_inferred_dims(write_mmsa, tmp_path: Path, kind: str) -> None:
    obj = mmsa_object(kind)
    path = write_mmsa(kind)
    ds = read_mmsa_pickle(path)
    assert ds.info.name == path.stem
    assert ds.info.dims == {m: DIMS[m] for m in ("text", "audio", "vision")}
    exp_t = {"aligned": (12, 12, 12), "unaligned": (12, 30, 20), "sims": (12, 40, 9)}[kind]
    assert tuple(ds.info.seq_lens.values()) == exp_t
    assert ds.info.score_range == ((-1.0, 1.0) if kind == "sims" else (-3.0, 3.0))
    for split, n in SIZES.items():
        sp, raw = ds[split], obj[split]
        assert len(sp) == n
        for m in ("text", "audio", "vision"):
            np.testing.assert_array_equal(sp.features[m], raw[m].astype(np.float32))
        np.testing.assert_allclose(sp.labels, raw["regression_labels"], rtol=1e-6)
        assert list(sp.ids) == list(raw["id"])
        text_len = raw["text_bert"][:, 1].sum(axis=1).astype(int)
        np.testing.assert_array_equal(sp.lengths["text"], text_len)
        if kind == "aligned":  # shared length from the attention mask
            for m in ("audio", "vision"):
                np.testing.assert_array_equal(sp.lengths[m], text_len)
        else:
            np.testing.assert_array_equal(sp.lengths["audio"], raw["audio_lengths"])
            np.testing.assert_array_equal(sp.lengths["vision"], raw["vision_lengths"])
        assert set(sp.extras) == ({"labels_T", "labels_A", "labels_V"} if kind == "sims" else set())
    # the project's own format keeps everything
    back = load_dataset(save_dataset(ds, tmp_path / "conv.npz"))
    for split in SIZES:
        for m in ("text", "audio", "vision"):
            np.testing.assert_array_equal(back[split].features[m], ds[split].features[m])
            np.testing.assert_array_equal(back[split].lengths[m], ds[split].lengths[m])
        np.testing.assert_array_equal(back[split].labels, ds[split].labels)
    assert back.info.dims == ds.info.dims


def test_aligned_without_text_bert_uses_last_nonzero_frame(write_mmsa) -> None:
    def mutate(obj):
        for d in obj.values():
            del d["text_bert"]
            d["text"][:, 9:] = 0  # trailing zero padding in every modality past frame 9
            d["audio"][:, 9:] = 0
            d["vision"][:, 9:] = 0

    ds = read_mmsa_pickle(write_mmsa("aligned", mutate))
    obj = mmsa_object("aligned")
    for split in SIZES:
        text_len = obj[split]["text_bert"][:, 1].sum(axis=1).astype(int)
        # text is dense (BERT) up to frame 9, so the union length is 9 for every sample
        expected = np.full(SIZES[split], 9)
        assert (text_len <= 12).all()
        for m in ("text", "audio", "vision"):
            np.testing.assert_array_equal(ds[split].lengths[m], expected)


def test_neg_inf_in_audio_becomes_zero(write_mmsa) -> None:
    def mutate(obj):
        obj["train"]["audio"][0, 0, :2] = -np.inf

    ds = read_mmsa_pickle(write_mmsa("unaligned", mutate))
    assert (ds["train"].features["audio"][0, 0, :2] == 0).all()
    assert np.isfinite(ds["train"].features["audio"]).all()


def _set(split: str, key: str, fn):
    def mutate(obj):
        obj[split][key] = fn(obj[split][key])

    return mutate


def _nan_at(x):
    x = x.copy()
    x[1, 0, 0] = np.nan
    return x


def _val_at(v):
    def f(x):
        x = x.copy()
        x[0, 0, 0] = v
        return x

    return f


BAD = {
    "missing split": (lambda o: o.pop("valid"), ["missing split 'valid'"]),
    "missing key": (lambda o: o["train"].pop("audio"), ["[train]", "missing key 'audio'"]),
    "missing labels": (lambda o: o["test"].pop("regression_labels"),
                       ["[test]", "'regression_labels'"]),
    "nan vision": (_set("test", "vision", _nan_at), ["[test]", "'vision'", "NaN"]),
    "nan text": (_set("valid", "text", _nan_at), ["[valid]", "'text'", "NaN"]),
    "+inf audio": (_set("train", "audio", _val_at(np.inf)), ["[train]", "'audio'", "inf"]),
    "-inf vision": (_set("train", "vision", _val_at(-np.inf)), ["[train]", "'vision'", "inf"]),
    "dim mismatch": (_set("test", "vision", lambda x: np.concatenate([x, x[:, :, :1]], axis=2)),
                     ["'vision'", "differs across splits", "test has 8"]),
    "empty split": (lambda o: o.__setitem__("valid", {k: v[:0] for k, v in o["valid"].items()}),
                    ["[valid]", "empty"]),
    "too long": (_set("train", "audio_lengths", lambda x: x + 100), ["[train]", "'audio_lengths'",
                                                                      "outside"]),
    "row mismatch": (_set("train", "vision", lambda x: x[:-1]), ["[train]", "'vision'", "samples"]),
    "2-D features": (_set("train", "audio", lambda x: x[:, 0]), ["[train]", "'audio'", "axes"]),
    "text feature as strings": (_set("train", "text", lambda x: np.full(x.shape, "a", object)),
                                ["[train]", "'text'", "numeric"]),
    "bad labels": (_set("test", "regression_labels", lambda x: x[:2]),
                   ["[test]", "'regression_labels'"]),
    "split not a dict": (lambda o: o.__setitem__("test", [1, 2]), ["split 'test'", "dict"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_and_field(write_mmsa, case: str) -> None:
    mutate, parts = BAD[case]
    path = write_mmsa("unaligned", mutate)
    with pytest.raises(DataError) as e:
        read_mmsa_pickle(path)
    msg = str(e.value)
    assert str(path) in msg
    for part in parts:
        assert part in msg, (case, msg)


def test_not_a_split_dict(tmp_path: Path) -> None:
    p = write_pickle([1, 2, 3], tmp_path / "list.pkl")
    with pytest.raises(DataError, match="not an MMSA feature pickle") as e:
        read_mmsa_pickle(p)
    assert str(p) in str(e.value)


def test_text_bert_shape_checked(write_mmsa) -> None:
    path = write_mmsa("aligned", _set("train", "text_bert", lambda x: x[:, :1]))
    with pytest.raises(DataError, match=r"\[train\]: 'text_bert' must be"):
        read_mmsa_pickle(path)
