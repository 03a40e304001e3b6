"""Grouped, stratified, seeded K-fold CV (`robustmsa.data.cv`) and its config / checkpoint
guards."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.config import load_config
from robustmsa.data.cv import assign_folds, benchmark_folds, carve_fold
from robustmsa.data.groups import groups_from_ids
from robustmsa.data.schema import MSADataset, infer_info
from robustmsa.errors import CheckpointError, ConfigError, DataError


def grouped(label_kind: str = "score") -> MSADataset:
    ds = make_tiny_dataset(n=(40, 20, 20))
    splits = {}
    for s, sp in ds.splits.items():
        sp.ids = np.array([f"{s}{i // 2}_{i}" for i in range(len(sp))])  # 2 clips per video
        sp.groups = groups_from_ids(sp.ids)
        if label_kind == "class":
            sp.labels = (sp.labels > 0.5).astype(np.int64)
        splits[s] = sp
    return MSADataset(splits, infer_info(splits, name="tiny", source="t", label_kind=label_kind,
                                         class_names=("neg", "pos") if label_kind == "class"
                                         else ()))


def test_assign_folds_groups_stratification_seed() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat([f"v{i}" for i in range(30)], 2)
    classes = np.repeat(rng.integers(0, 2, 30), 2)
    f = assign_folds(groups, 5, seed=0, classes=classes)
    for g in set(groups):
        assert len(set(f[groups == g])) == 1  # a video never spans two folds
    counts = np.array([[((f == k) & (classes == c)).sum() for c in (0, 1)] for k in range(5)])
    assert (counts.max(0) - counts.min(0) <= 2).all()  # each class balanced to one video
    np.testing.assert_array_equal(f, assign_folds(groups, 5, seed=0, classes=classes))
    assert not np.array_equal(f, assign_folds(groups, 5, seed=1, classes=classes))
    with pytest.raises(DataError, match="at least 5 groups"):
        assign_folds(groups[:8], 5)


@pytest.mark.parametrize("kind", ["score", "class"])
def test_carve_every_sample_tested_once_valid_inside_training(kind) -> None:
    ds = grouped(kind)
    seen, seen_valid = [], []
    for i in range(4):
        f = carve_fold(ds, folds=4, fold=i, pool=("valid", "test"), seed=0)
        ids = {s: set(f[s].ids) for s in ("train", "valid", "test")}
        assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["valid"])
        assert not (ids["valid"] & ids["test"])
        assert set().union(*ids.values()) == set(ds["valid"].ids) | set(ds["test"].ids)
        assert not {g for g in f["train"].groups} & {g for g in f["test"].groups}
        assert f.info.cv == {"folds": 4, "fold": i, "pool": ["valid", "test"], "seed": 0}
        seen += list(ids["test"])
        seen_valid += list(ids["valid"])
        nxt = carve_fold(ds, folds=4, fold=(i + 1) % 4, pool=("valid", "test"), seed=0)
        assert ids["valid"] == set(nxt["test"].ids)  # valid = fold i+1
    assert sorted(seen) == sorted(seen_valid) == sorted(set(ds["valid"].ids) | set(ds["test"].ids))


def test_cv_errors() -> None:
    ds = make_tiny_dataset()
    for sp in ds.splits.values():
        sp.groups = None  # the fixture's videos removed: a dataset without a grouping
    with pytest.raises(DataError, match="no grouping"):
        carve_fold(ds, folds=3, fold=0)
    with pytest.raises(ConfigError, match=">= 3"):
        carve_fold(grouped(), folds=2, fold=0)
    with pytest.raises(ConfigError, match="no split 'dev'"):
        carve_fold(grouped(), folds=3, fold=0, pool=("dev",))
    with pytest.raises(ConfigError, match=r"data.cv_fold must be in \[0, 4\]"):
        load_config(None, ["data.cv_folds=5", "data.cv_fold=5"])
    with pytest.raises(ConfigError, match="base.data.cv_folds is not set"):
        benchmark_folds({"data": {}}, [0])
    assert [f for f, _ in benchmark_folds({"data": {"cv_folds": 3}})] == [0, 1, 2]
    assert benchmark_folds({"data": {"cv_folds": 3}}, [2])[0][1]["data"]["cv_fold"] == 2


def test_fold_checkpoint_recarves_its_fold_or_refuses(tmp_path) -> None:
    """A fold checkpoint is evaluated on its own test fold: carved again from uncarved data or
    from another fold carved here; a fold whose uncarved data is unknown is refused."""
    from robustmsa.data.schema import load_dataset, save_dataset
    from robustmsa.engine.trainer import train
    from robustmsa.evaluation.api import evaluate

    ds = grouped()
    f1 = carve_fold(ds, folds=3, fold=1, seed=0)
    train(tiny_config("teacher", "train.epochs=1", "data.cv_folds=3", "data.cv_fold=1"),
          tmp_path / "t", data=f1)
    ck = tmp_path / "t" / "best.pt"

    def vals(recs):
        return {(r["condition"], r["metric"]): r["value"] for r in recs}

    recs, _ = evaluate([ck], f1, protocols=[], conditions=["complete"], mask_seeds=[0])
    assert recs and {r["fold"] for r in recs} == {1}
    for other in (ds, carve_fold(ds, folds=3, fold=2)):  # uncarved, another fold: re-carved
        again, _ = evaluate([ck], other, protocols=[], conditions=["complete"], mask_seeds=[0])
        assert vals(again) == vals(recs)
    f2 = load_dataset(save_dataset(carve_fold(ds, folds=3, fold=2), tmp_path / "f2.npz"))
    with pytest.raises(CheckpointError, match="trained on cross-validation fold 1 of 3.*is fold 2"):
        evaluate([ck], f2, protocols=["subsets"])
    # the trainer carves the config's fold itself from uncarved data
    train(tiny_config("teacher", "train.epochs=1", "data.cv_folds=3", "data.cv_fold=1"),
          tmp_path / "u", data=ds)
    import torch

    a = torch.load(ck, weights_only=True)["dataset_info"]
    b = torch.load(tmp_path / "u" / "best.pt", weights_only=True)["dataset_info"]
    assert a["cv"] == b["cv"] == {"folds": 3, "fold": 1, "pool": ["train", "valid", "test"],
                                  "seed": 0}
