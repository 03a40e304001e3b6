"""Multi-target regression (`task.kind=multi_regression`, POM's 17 scores): task, metrics
against a naive reference, the sentiment-scale guard, and every registered method on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.data.schema import MSADataset, infer_info
from robustmsa.engine.builder import build_method
from robustmsa.errors import ConfigError
from robustmsa.evaluation.task_metrics import multi_target_metrics
from robustmsa.methods import METHODS
from robustmsa.missing import MRM, draw_split_mask
from robustmsa.tasks import Task

TARGETS = ("col00", "col01", "col02")


def multi_data(text: bool = False) -> MSADataset:
    """Audio + vision (POM-like), 3 targets on a 1-7 scale correlated with the features."""
    dims = (("audio", 5), ("vision", 7)) + ((("text", 4),) if text else ())
    ds = make_tiny_dataset(dims=dims)
    splits = {}
    for i, (s, sp) in enumerate(ds.splits.items()):
        rng = np.random.default_rng(i)
        base = sp.labels[:, None]
        sp.labels = (4 + base * np.array([0.5, -0.3, 0.8]) + rng.normal(0, 0.3, (len(sp), 3))
                     ).astype(np.float32)
        splits[s] = sp
    return MSADataset(splits, infer_info(splits, name="multi", source="t", label_kind="multi",
                                         score_range=(1.0, 7.0), target_names=TARGETS))


def test_metrics_match_naive_reference() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3))
    p = y + rng.normal(size=(50, 3))
    out = multi_target_metrics(p, y, TARGETS)
    for k, n in enumerate(TARGETS):
        mae = sum(abs(p[i, k] - y[i, k]) for i in range(50)) / 50
        assert out[f"MAE/{n}"] == pytest.approx(mae)
        assert out[f"Corr/{n}"] == pytest.approx(np.corrcoef(p[:, k], y[:, k])[0, 1])
    assert out["MAE"] == pytest.approx(np.mean([out[f"MAE/{n}"] for n in TARGETS]))
    assert out["Corr"] == pytest.approx(np.mean([out[f"Corr/{n}"] for n in TARGETS]))
    const = multi_target_metrics(np.ones((50, 3)), y, TARGETS)  # degenerate: r undefined
    assert np.isnan(const["Corr"]) and np.isnan(const["Corr/col00"])
    one = multi_target_metrics(p[:, 0], y[:, 0], ("score",))
    assert set(one) == {"MAE", "Corr"}


def test_task_standardises_targets_and_predicts_on_the_original_scale() -> None:
    ds = multi_data()
    task = Task.build("multi_regression", ds.info)
    assert task.num_outputs == 3 and task.target_names == TARGETS
    y = torch.from_numpy(ds["train"].labels)
    t = task.targets(y)
    np.testing.assert_allclose(t.mean(0).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(t.std(0, unbiased=False).numpy(), 1, atol=1e-4)
    assert torch.allclose(task.predict(t).score, y, atol=1e-5)  # the inverse map
    assert Task.from_dict(task.to_dict()) == task
    with pytest.raises(ValueError, match="use task.kind='multi_regression'"):
        Task.build("regression", ds.info)
    ict = infer_info(make_tiny_dataset().splits, name="ict", source="t", score_range=(1.0, 5.0),
                     target_names=("score",))
    with pytest.raises(ValueError, match=r"scores in \[1, 5\], a scale without a sentiment zero"):
        Task.build("polarity2", ict)
    assert Task.build("multi_regression", ict).num_outputs == 1


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_on_multi_target_data_runs_or_refuses_in_one_line(name, tmp_path) -> None:
    ds = multi_data()
    cls = METHODS.get(name)
    teacher = ""
    if cls.teacher_mode == "frozen":
        from robustmsa.engine.trainer import train

        train(tiny_config("teacher", "task.kind=multi_regression", "train.epochs=1",
                          "train.select_metric=MAE"), tmp_path / "t", data=ds)
        teacher = str(tmp_path / "t" / "best.pt")
    cfg = tiny_config(name, "task.kind=multi_regression", teacher=teacher)
    try:
        m = build_method(cfg, ds.info)
    except ConfigError as e:  # corrkd: needs classes; dfsd: needs text
        assert "\n" not in str(e) and name in str(e)
        assert ("classification" in str(e)) or ("text" in str(e))
        return
    sp = ds["train"]
    b = collate_rows(sp, list(range(16)))
    from dataclasses import replace

    if cls.train_missing:
        b = replace(b, train_mask=draw_split_mask(MRM(), sp, np.arange(16), seed=0,
                                                  split_name="train"))
    m.train()
    out = m(b)
    assert torch.isfinite(out.loss)
    m.eval()
    pred = m.predict(collate_rows(ds["test"], list(range(len(ds["test"])))))
    assert pred.score.shape == (len(ds["test"]), 3) and pred.probs is None


def test_multi_target_checkpoint_through_the_one_data_path(tmp_path) -> None:
    """A multi-target checkpoint: its dataset_info passes the strict `DatasetInfo.from_dict`,
    evaluate / predict_to_file prepare raw data for it, predictions are (N, K), and scoring
    them with a sentiment convention is refused."""
    from robustmsa.commands.score import check_task_fits
    from robustmsa.data.prepare import checkpoint_info
    from robustmsa.engine.checkpoint import load_checkpoint
    from robustmsa.engine.trainer import train
    from robustmsa.errors import DataError
    from robustmsa.evaluation.api import evaluate
    from robustmsa.evaluation.predictions import predict_to_file

    ds = multi_data()
    train(tiny_config("teacher", "task.kind=multi_regression", "train.epochs=1",
                      "train.select_metric=MAE"), tmp_path / "t", data=ds)
    ck = tmp_path / "t" / "best.pt"
    info = checkpoint_info(load_checkpoint(ck))
    assert info.label_kind == "multi" and info.target_names == TARGETS
    assert info.target_mean == ds.info.target_mean
    recs, _ = evaluate([ck], ds, protocols=[], conditions=["complete"], mask_seeds=[0])
    assert {"MAE", "Corr", "MAE/col01"} <= {r["metric"] for r in recs}
    p, n = predict_to_file(str(ck), ds, split="test", condition="complete", mask_seed=0,
                           out=tmp_path / "p.npz")
    arr = np.load(p)
    assert arr["pred"].shape == arr["truth"].shape == (n, 3) and str(arr["convention"]) == "none"
    with pytest.raises(DataError, match="multi-target regression model"):
        check_task_fits(p, "multi_regression", "mosi", "pred")


def test_strict_info_admits_targets_and_folds_only_when_well_formed() -> None:
    from robustmsa.data.schema import DatasetInfo
    from robustmsa.errors import DataError

    ds = multi_data()
    d = ds.info.to_dict()
    assert DatasetInfo.from_dict(d) == ds.info
    cv = {"folds": 5, "fold": 2, "pool": ["valid", "test"], "seed": 0}
    assert DatasetInfo.from_dict(dict(d, cv=cv)).cv == cv
    for bad, msg in ((dict(d, surprise=1), "unknown field"),
                     (dict(d, label_kind="multiple"), "label_kind"),
                     (dict(d, cv={"folds": 5}), "'cv'"),
                     (dict(d, cv=dict(cv, fold=5)), "cv.fold"),
                     (dict(d, cv=dict(cv, pool="test")), "cv.pool"),
                     (dict(d, target_mean=[0.0]), "target_mean"),
                     (dict(d, target_std=[1.0, 0.0, 1.0]), "target_std")):
        with pytest.raises(ValueError, match=msg):
            DatasetInfo.from_dict(bad)
    with pytest.raises(DataError, match=r"\[train\]: labels have shape \(48, 3\) but 2 target"):
        infer_info(ds.splits, name="m", source="t", label_kind="multi",
                   target_names=TARGETS[:2])
    with pytest.raises(DataError, match=r"labels must have shape \(48,\) for label_kind 'score'"):
        infer_info(ds.splits, name="m", source="t")
