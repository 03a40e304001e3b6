"""CorrKD options that let SCD carry information: present blocks, normalisation, scaling."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import make_tiny_dataset, tiny_config
from tests.methods.test_method_contract import train_batch

from robustmsa.engine.builder import build_method
from robustmsa.engine.trainer import Trainer
from robustmsa.errors import ConfigError


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = make_tiny_dataset(n=(32, 8, 8))
    teachers = {}
    for kind in ("polarity2", "sentiment3"):
        d = tmp_path_factory.mktemp(kind)
        Trainer(tiny_config("teacher", "train.epochs=1", f"task.kind={kind}"), data, d).fit()
        teachers[kind] = str(d / "best.pt")
    return data, teachers


def build(setup, *extra):
    data, teachers = setup
    kind = "sentiment3" if "task.kind=sentiment3" in extra else "polarity2"
    return build_method(tiny_config("corrkd", *extra, teacher=teachers[kind]), data.info)


@pytest.mark.parametrize("extra", [
    ("method_config.joint_blocks=present",),
    ("method_config.scd_normalize=true",),
    ("method_config.joint_blocks=present", "method_config.scd_normalize=true",
     "method_config.scd_scale=task", "task.kind=sentiment3"),
])
def test_options_train_and_balance(setup, extra):
    data, _ = setup
    torch.manual_seed(0)
    m = build(setup, *extra).train()
    out = m(train_batch(m, data, rows=range(16)))
    assert torch.isfinite(out.loss) and set(out.losses) == {"task", "scd", "cpd", "rcd"}
    if "method_config.scd_scale=task" in extra:  # SCD's weighted value equals the CE value
        assert out.weight("scd") * float(out.losses["scd"].detach()) == pytest.approx(
            float(out.losses["task"].detach()), rel=1e-5)
    if "method_config.scd_normalize=true" in extra:
        assert 0 < float(m.margin_) <= 2.0
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in m.student.parameters() if p.grad is not None)


def test_present_blocks_ignore_absent_modalities(setup):
    """With joint_blocks=present, SCD/CPD do not see the blocks of absent modalities."""
    data, _ = setup
    m = build(setup, "method_config.joint_blocks=present", "model.dropout=0.0")
    b = train_batch(m, data, rows=range(16))
    keep = m._keep(b.train_mask, torch.zeros(16, 3 * 8))  # present of the student's input
    assert keep.shape == (16, 24) and not keep.all()
    for bad in ("joint_blocks=some", "scd_scale=ce"):
        with pytest.raises(ConfigError):
            build(setup, f"method_config.{bad}")
