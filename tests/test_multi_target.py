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
