"""Best-epoch selection: min_delta, the tie rule, direction, and what is logged."""

from __future__ import annotations

import json

import pytest
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.engine import trainer as trainer_mod
from robustmsa.engine.selection import Selection
from robustmsa.engine.trainer import Trainer
from robustmsa.errors import ConfigError


def test_improves_rules():
    s = Selection("F1", ("complete",))
    assert s.min_delta == 1e-4 and s.direction == "higher"
    assert s.improves(0.5, s.initial())
    assert not s.improves(0.5 + 1e-5, 0.5)  # a 1e-5 difference does not count
    assert not s.improves(0.5, 0.5)  # tie: the earlier epoch stays
    assert s.improves(0.5 + 2e-4, 0.5)
    assert not s.improves(float("nan"), 0.5)
    mae = Selection("MAE", ("complete",))
    assert mae.direction == "lower" and mae.initial() == float("inf")
    assert mae.improves(0.9, 1.0) and not mae.improves(1.0 - 1e-5, 1.0)
    assert not mae.improves(1.1, 1.0)
    strict = Selection("F1", ("complete",), min_delta=0.0)
    assert strict.improves(0.5 + 1e-5, 0.5) and not strict.improves(0.5, 0.5)


def test_score_inputs_and_missing_metric():
    recs = [{"condition": c, "metric": "F1", "value": v} for c, v in (("complete", 0.8), ("t", 0.6))]
    recs.append({"condition": "complete", "metric": "Acc", "value": 0.1})
    score, inputs = Selection("F1", ("complete", "t")).score(recs)
    assert score == pytest.approx(0.7) and inputs == {"complete": 0.8, "t": 0.6}
    with pytest.raises(ValueError, match="select_metric 'MAE'"):
        Selection("MAE", ("complete",)).score(recs)


def scripted(monkeypatch, values: list[float], metric: str = "F1"):
    """Make the trainer's validation return the given score per epoch."""
    it = iter(values)

    def fake(method, split, *, conditions, **kw):
        v = next(it)
        return [{"condition": c, "mask_seed": 0, "metric": metric, "value": v} for c in conditions]

    monkeypatch.setattr(trainer_mod, "evaluate_conditions", fake)


@pytest.mark.parametrize("min_delta,best", [(None, 0), ("0.0", 1)])
def test_a_1e5_difference_no_longer_flips_selection(monkeypatch, tmp_path, min_delta, best):
    scripted(monkeypatch, [0.7, 0.7 + 1.6e-5, 0.69])
    extra = ["train.epochs=3", "train.loss_balance=false"]
    if min_delta is not None:
        extra.append(f"train.min_delta={min_delta}")
    res = Trainer(tiny_config("teacher", *extra), make_tiny_dataset(), tmp_path).fit()
    assert res.best_epoch == best
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    ep = [r for r in recs if r["type"] == "epoch"]
    sel = ep[1]["select"]
    assert sel["inputs"] == {"complete": pytest.approx(0.7 + 1.6e-5)}
    assert sel["improved"] == (best == 1) and sel["direction"] == "higher"
    assert sel["min_delta"] == (1e-4 if min_delta is None else 0.0)


def test_mae_is_logged_as_itself(monkeypatch, tmp_path):
    scripted(monkeypatch, [1.2, 0.9, 0.95], metric="MAE")
    cfg = tiny_config("teacher", "train.epochs=3", "task.kind=regression", "train.select_metric=MAE",
                      "train.loss_balance=false")
    res = Trainer(cfg, make_tiny_dataset(), tmp_path).fit()
    assert res.best_epoch == 1 and res.best_score == pytest.approx(0.9)
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    ep = [r for r in recs if r["type"] == "epoch"]
    assert [r["select_score"] for r in ep] == pytest.approx([1.2, 0.9, 0.95])
    assert all(r["select"]["direction"] == "lower" for r in ep)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["select_direction"] == "lower" and s["best_score"] == pytest.approx(0.9)


def test_negative_min_delta_refused():
    with pytest.raises(ConfigError, match="min_delta"):
        tiny_config("teacher", "train.min_delta=-1")
