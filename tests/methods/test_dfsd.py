"""DFSD specifics: presets, double flow, text simulators, routing of text-missing samples."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.builder import build_method
from robustmsa.errors import ConfigError
from robustmsa.methods.dfsd import DFSDConfig
from robustmsa.missing import TextSubstitute, apply_missing, draw_mask

SMALL = ("method_config.hidden_dim=16", "method_config.query_dim=8", "method_config.rnc_dim=8")


@pytest.fixture(scope="module")
def data():
    return make_tiny_dataset(n=(16, 4, 8))


def build(data, *extra):
    return build_method(tiny_config("dfsd", *SMALL, *extra), data.info)


def test_presets_and_explicit_weights():
    assert DFSDConfig().weights() == {"full_task": 0.5, "missing_task": 0.5, "text_feat": 0.1,
                                      "text_query": 0.7, "feat": 0.1, "rnc": 0.8}
    w = DFSDConfig(preset="icassp-script", rnc_weight=0.2).weights()
    assert w == {"full_task": 0.5, "missing_task": 0.5, "text_feat": 0.0, "text_query": 0.0,
                 "feat": 0.13, "rnc": 0.2}
    with pytest.raises(ValueError, match="preset"):
        DFSDConfig(preset="paper")


def test_loss_is_the_weighted_table(data):
    torch.manual_seed(0)
    m = build(data, "method_config.preset=icassp-script")
    out = m(collate_rows(data["train"], list(range(8))))
    ls = out.losses
    assert set(ls) == {"full_task", "missing_task", "text_feat", "text_query", "feat", "rnc",
                       "simulator"}
    want = (0.5 * ls["full_task"] + 0.5 * ls["missing_task"] + 0.13 * ls["feat"]
            + 0.5 * ls["rnc"] + ls["simulator"])
    assert torch.allclose(out.loss, want)
    out.loss.backward()
    assert m.rnc_head[0].weight.grad is not None  # training-only head is trained
    assert not any(k.startswith("rnc_head") for k in m.deployable_state_dict())


def _text_missing(batch, sp, rows):
    mask = draw_mask(TextSubstitute(), list(batch.ids), {k: v[rows] for k, v in sp.lengths.items()},
                     {k: v.shape[1] for k, v in batch.features.items()}, seed=0, split="test")
    return apply_missing(batch, mask)


def test_text_missing_rows_use_the_simulated_text(data):
    m = build(data).eval()
    sp, rows = data["test"], list(range(8))
    full = collate_rows(sp, rows)
    miss = _text_missing(full, sp, rows)
    # a batch with text for the even rows only
    even = torch.arange(8) % 2 == 0
    mixed = replace(full, present=full.present.clone())
    mixed.present[:, 0] = even
    mixed = replace(mixed, features={**full.features, "text": full.features["text"] * even[
        :, None, None]})
    with torch.no_grad():
        got = m.predict(mixed).score
        want_full = m.predict(full).score
        want_miss = m.predict(miss).score
        sim_flow = m.task.predict(m.flow(miss, m.simulate_text(miss)).logits).score
    assert torch.allclose(got[even], want_full[even], atol=1e-6)
    assert torch.allclose(got[~even], want_miss[~even], atol=1e-6)
    assert torch.allclose(want_miss, sim_flow, atol=1e-6)
    assert not torch.allclose(want_full, want_miss)


def test_simulators(data):
    torch.manual_seed(0)
    b = collate_rows(data["train"], list(range(6)))
    zeros = build(data, "method_config.simulator=zeros")
    assert "simulator" not in zeros.student and "simulator" not in zeros(b).losses
    dm = build(data, "method_config.simulator=data")
    with pytest.raises(ValueError, match="text_sim"):
        dm(b)
    sim = torch.randn(6, 5, b.features["text"].shape[-1])
    sim_mask = torch.tensor([[1, 1, 1, 0, 0]] * 6, dtype=torch.bool)
    bd = replace(b, extras={"text_sim": sim, "text_sim_mask": sim_mask})
    out = dm(bd)
    assert torch.isfinite(out.loss)
    x, mask = dm.simulate_text(bd)
    assert torch.equal(x, sim) and torch.equal(mask, sim_mask)
    # at inference without the stream, "data" falls back to an empty text
    dm.eval()
    assert torch.isfinite(dm.predict(_text_missing(b, data["train"], list(range(6)))).score).all()


def test_projector_is_trained_only_by_its_mse_by_default(data):
    torch.manual_seed(0)
    m = build(data)
    b = collate_rows(data["train"], list(range(8)))
    out = m(b)
    out.losses["missing_task"].backward()
    assert all(p.grad is None for p in m.student["simulator"].parameters())
    m.zero_grad()
    e2e = build(data, "method_config.simulator_end_to_end=true")
    e2e(b).losses["missing_task"].backward()
    assert any(p.grad is not None for p in e2e.student["simulator"].parameters())


@pytest.mark.parametrize("extra", [
    ("method_config.mia=false",),
    ("method_config.mia_residual=transition", "task.kind=regression"),
    ("task.kind=sentiment7",),
])
def test_variants_and_batch_of_one(data, extra):
    torch.manual_seed(0)
    m = build(data, *extra)
    assert (m.student["net"].mia1 is None) == ("method_config.mia=false" in extra)
    out = m(collate_rows(data["train"], [3]))
    assert torch.isfinite(out.loss)
    out.loss.backward()
    m.eval()
    b = collate_rows(data["test"], [0, 1, 2])
    b = replace(b, present=torch.tensor([[0, 0, 1], [0, 0, 0], [1, 0, 0]]).bool())
    assert torch.isfinite(m.predict(b).score).all()


def test_needs_text_and_another_modality():
    only_av = make_tiny_dataset(n=(4, 4, 4), dims=(("audio", 3), ("vision", 4)))
    with pytest.raises(ConfigError, match="text"):
        build_method(tiny_config("dfsd"), only_av.info)
    tv = make_tiny_dataset(n=(6, 4, 4), dims=(("text", 5), ("vision", 4)))
    m = build_method(tiny_config("dfsd", *SMALL), tv.info)
    assert m.student["simulator"].primary == "vision"
    assert len(m.student["net"].subsets) == 3
    assert torch.isfinite(m(collate_rows(tv["train"], [0, 1, 2])).loss)
