"""Sample groups (video of each utterance): parsing, persistence, the no-grouping error."""

from __future__ import annotations

import numpy as np
import pytest
from msa_pickle_writers import SHARED_DATA

from robustmsa.data import load_data
from robustmsa.data.groups import groups_from_ids, require_groups
from robustmsa.data.schema import load_dataset, save_dataset
from robustmsa.data.synthetic import make_synthetic_preset
from robustmsa.errors import DataError


def test_groups_from_ids_patterns():
    ids = np.array(["1DmNV9C1hbY_10", "1DmNV9C1hbY_2", "a_b_3", "vid$_$7", "plain"])
    assert groups_from_ids(ids).tolist() == ["1DmNV9C1hbY", "1DmNV9C1hbY", "a_b", "vid", "plain"]


def test_groups_round_trip_and_subset(tmp_path):
    ds = make_synthetic_preset("small", random_state=0, clips_per_video=0)
    sp = ds["train"]
    sp.groups = np.array([f"v{i // 7}" for i in range(len(sp))])
    sub = sp.subset(np.arange(10, 20))
    assert sub.groups.tolist() == sp.groups[10:20].tolist()
    back = load_dataset(save_dataset(ds, tmp_path / "d.npz"))
    assert back["train"].groups.tolist() == sp.groups.tolist()
    assert back["valid"].groups is None


def test_require_groups_names_the_dataset():
    ds = make_synthetic_preset("small", random_state=0, clips_per_video=0)
    with pytest.raises(DataError, match="synthetic:small.*no grouping"):
        require_groups(ds["test"], who="gcnet", split_name="test", dataset=ds.info.name)


@pytest.mark.skipif(not (SHARED_DATA / "mosi_bclstm").exists(),
                    reason="../shared/data/mosi_bclstm not present")
def test_mosi_bclstm_groups_are_its_videos():
    ds = load_data("mosi_bclstm")
    assert len(set(ds["test"].groups)) == 31  # the release's 31 test videos
    tr, va = set(ds["train"].groups), set(ds["valid"].groups)
    assert not tr & va and len(tr) + len(va) == 62  # whole videos in train / valid
