"""CASD specifics: mixture over present modalities, numerical safety, options, warm-up."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.builder import build_method
from robustmsa.errors import ConfigError
from robustmsa.missing import MissingMask


@pytest.fixture(scope="module")
def data():
    return make_tiny_dataset(n=(16, 4, 8))


def build(data, *extra):
    return build_method(tiny_config("casd", *extra), data.info)


def with_present(batch, present):
    """Training batch whose student pass sees only the given (B, M) modality pattern."""
    mask = MissingMask(present=present,
                       keep={m: torch.ones_like(v) for m, v in batch.frame_mask.items()},
                       modalities=batch.modalities)
    return replace(batch, train_mask=mask)


@pytest.mark.parametrize("missing_input", ["mask", "zeros"])
def test_weights_ignore_missing_modalities(data, missing_input):
    m = build(data, f"model.missing_input={missing_input}").eval()
    b = collate_rows(data["test"], list(range(4)))
    b = replace(b, present=torch.tensor([[1, 0, 1], [1, 1, 1], [0, 1, 0], [0, 0, 0]]).bool())
    mix = m.net(b)
    assert mix.weights[0, 1] == 0 and mix.weights[2].tolist() == [0.0, 1.0, 0.0]
    assert torch.allclose(mix.weights[3], torch.full((3,), 1 / 3))  # fallback: uniform
    assert torch.allclose(mix.weights.sum(1), torch.ones(4))
    # a missing modality's features cannot change the prediction (its mixture weight is 0;
    # with nothing present, "zeros" sees the features, which apply_missing makes zero)
    noisy = replace(b, features={**b.features, "audio": b.features["audio"] + 3.0})
    s1, s2 = m.predict(b).score, m.predict(noisy).score
    rows = [0, 3] if missing_input == "mask" else [0]
    assert torch.allclose(s1[rows], s2[rows])
    assert torch.equal(m.predict(b).score, s1)  # deterministic at test time


@pytest.mark.parametrize("extra", [(), ("method_config.consistency=kl",),
                                   ("method_config.confidence=sigma", "task.kind=regression")])
def test_no_nan_with_degenerate_presence(data, extra):
    torch.manual_seed(0)
    m = build(data, *extra)
    b = collate_rows(data["train"], list(range(4)))
    present = torch.tensor([[1, 0, 0], [0, 0, 0], [0, 1, 0], [1, 1, 1]]).bool()
    out = m(with_present(b, present))
    assert torch.isfinite(out.loss) and all(torch.isfinite(v) for v in out.losses.values())
    out.loss.backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    # batch of one with nothing present at all, both passes
    b1 = collate_rows(data["train"], [5])
    b1 = replace(b1, present=torch.zeros(1, 3, dtype=torch.bool))
    out1 = m(with_present(b1, torch.zeros(1, 3, dtype=torch.bool)))
    assert torch.isfinite(out1.loss)
    out1.loss.backward()
    m.eval()
    assert torch.isfinite(m.predict(b1).score).all()
    assert torch.isfinite(m.uncertainty(b)).all()


def test_df_and_scale_ranges(data):
    m = build(data, "method_config.df_max=4.0")
    mix = m.net(collate_rows(data["train"], list(range(8))))
    assert (mix.df >= 2.1).all() and (mix.df <= 4.0).all()
    assert (mix.scale >= 1e-4).all()
    assert (mix.uncertainty >= 0).all()


def test_warmup_ramps_the_consistency_weight(data):
    torch.manual_seed(0)
    m = build(data, "method_config.warmup_steps=4")
    b = collate_rows(data["train"], list(range(8)))
    out = m(with_present(b, torch.tensor([[1, 0, 0]] * 8).bool()))
    base = out.losses["task_teacher"] + out.losses["task_student"] + out.losses["task_mean"]
    want = base + 0.25 * (out.losses["logits"] + out.losses["consistency"]) \
        + 0.1 * out.losses["uncertainty"]
    assert torch.allclose(out.loss, want)
    assert int(m.step_) == 1
    m.eval()
    m.predict(b)
    assert int(m.step_) == 1  # evaluation does not advance the warm-up


def test_mean_task_loss_and_init_scale(data):
    """task_mean = the task loss of the test-time path (mixture means) of both passes."""
    import torch.nn.functional as F

    from robustmsa.missing import apply_missing

    m = build(data, "method_config.init_scale=0.05")
    scale_bias = torch.stack([lin.bias for lin in m.net.scale.values()])
    assert torch.allclose(F.softplus(scale_bias) + 1e-4, torch.full_like(scale_bias, 0.05))
    b = with_present(collate_rows(data["train"], list(range(8))),
                     torch.tensor([[1, 0, 1]] * 8).bool())
    m.eval()  # dropout off: the forward and the reference see the same network
    target = m.task.targets(b.labels)
    mt, ms = m.net(b), m.net(apply_missing(b, b.train_mask))
    ref = F.cross_entropy(m.net.predictor(mt.mean), target) + \
        F.cross_entropy(m.net.predictor(ms.mean), target)
    assert torch.allclose(m(b).losses["task_mean"], ref, atol=1e-6)
    off = build(data, "method_config.mean_task_weight=0")
    assert "task_mean" not in off(b).losses


def test_config_errors(data):
    with pytest.raises(ConfigError, match="confidence"):
        build(data, "method_config.confidence=nu")
    with pytest.raises(ConfigError, match="df_max"):
        build(data, "method_config.df_max=2.0")
    with pytest.raises(ConfigError, match="init_scale"):
        build(data, "method_config.init_scale=-1")
