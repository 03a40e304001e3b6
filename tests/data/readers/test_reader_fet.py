"""MMSA-FET single-video feature pickles (real examples from ../shared/media + synthetic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from msa_pickle_writers import write_pickle

from robustmsa.data import detect_format, load_data, read_fet_dataset, read_fet_features
from robustmsa.errors import DataError

REAL = {  # shapes documented in ../shared/media/README.md
    "feature_aligned.pkl": {"text": (9, 768), "audio": (9, 25), "vision": (9, 171)},
    "feature_unaligned.pkl": {"text": (11, 768), "audio": (221, 70), "vision": (32, 177)},
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_fet_examples(media_dir: Path, name: str) -> None:
    feats = read_fet_features(media_dir / name)
    assert {m: x.shape for m, x in feats.items()} == REAL[name]
    assert all(x.dtype == np.float32 and np.isfinite(x).all() for x in feats.values())
    assert detect_format(media_dir / name) == "pickle:fet"
    ds = load_data(media_dir / name)
    sp = ds["test"]
    assert len(sp) == 1 and ds.info.dims == {m: s[1] for m, s in REAL[name].items()}
    assert {m: int(v[0]) for m, v in sp.lengths.items()} == {m: s[0] for m, s in REAL[name].items()}


def _fet(t: int = 5) -> dict:
    rng = np.random.default_rng(0)
    return {"text": rng.normal(size=(t, 8)).astype(np.float32),
            "text_bert": np.stack([np.ones(t), np.r_[np.ones(t - 2), 0, 0], np.zeros(t)]).astype(
                np.int64),
            "audio": rng.normal(size=(20, 4)), "vision": rng.normal(size=(7, 3)),
            "config": {"audio": {"tool": "librosa"}}}


def test_text_length_from_mask_and_neg_inf(tmp_path: Path) -> None:
    obj = _fet()
    obj["audio"][3, 1] = -np.inf
    ds = read_fet_dataset(write_pickle(obj, tmp_path / "one.pkl"))
    assert int(ds["test"].lengths["text"][0]) == 3
    assert ds["test"].features["audio"][0, 3, 1] == 0


@pytest.mark.parametrize(
    ("mutate", "parts"),
    [(lambda o: o.pop("vision"), ["missing key 'vision'"]),
     (lambda o: o.__setitem__("audio", np.ones((2, 3, 4))), ["'audio'", "axes"]),
     (lambda o: o["vision"].__setitem__((0, 0), np.nan), ["'vision'", "NaN"]),
     (lambda o: o.__setitem__("text", np.zeros((0, 8))), ["'text'", "no frames"])],
)
def test_bad_fet_names_file_and_field(tmp_path: Path, mutate, parts) -> None:
    obj = _fet()
    mutate(obj)
    p = write_pickle(obj, tmp_path / "bad.pkl")
    with pytest.raises(DataError) as e:
        read_fet_features(p)
    assert str(p) in str(e.value)
    for part in parts:
        assert part in str(e.value)
