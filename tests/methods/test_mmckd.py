"""MM-CKD specifics: one student per incomplete subset, per-sample routing, shared encoders."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.builder import build_method
from robustmsa.errors import ConfigError
from robustmsa.missing import Subset, apply_missing, draw_mask


@pytest.fixture(scope="module")
def data():
    return make_tiny_dataset(n=(24, 8, 12))


def build(data, *extra):
    return build_method(tiny_config("mmckd", *extra), data.info)


def masked(batch, sp, rows, subset):
    mask = draw_mask(Subset(subset), list(batch.ids), {k: v[rows] for k, v in sp.lengths.items()},
                     {k: v.shape[1] for k, v in batch.features.items()}, seed=0, split="test")
    return apply_missing(batch, mask)


def test_students_follow_the_data_modalities(data):
    m = build(data)
    assert sorted(m.students) == ["a", "av", "t", "ta", "tv", "v"]
    assert m.students["ta"].modalities == ("text", "audio")
    assert set(m.students["a"].encoders) == {"audio"}  # never fed (zero) text or vision
    dep = m.deployable_state_dict()
    assert {k.split(".")[0] for k in dep} == {"tav", "t", "a", "v", "ta", "tv", "av"}
    assert not any(k.startswith(("teacher.", "proj.")) for k in dep)
    assert set(m.training_state_dict()) and all(k.startswith("proj.")
                                                for k in m.training_state_dict())
    # two-modality data: one teacher + two students, nothing hard-coded to three
    small = make_tiny_dataset(n=(8, 4, 4), dims=(("text", 6), ("audio", 3)))
    m2 = build(small)
    assert sorted(m2.students) == ["a", "t"]
    out = m2(collate_rows(small["train"], list(range(8))))
    assert set(out.losses) == {"task_teacher", "task_t", "task_a", "mvsc"}


def test_predict_routes_each_sample_to_its_model(data):
    m = build(data).eval()
    sp = data["test"]
    rows = list(range(12))
    full = collate_rows(sp, rows)
    parts = {s: masked(full, sp, rows, s) for s in ("tav", "ta", "v")}
    # a batch mixing three availability patterns, row by row
    pattern = ["tav", "ta", "v"] * 4
    mixed_feats = {m_: torch.stack([parts[p].features[m_][i] for i, p in enumerate(pattern)])
                   for m_ in full.modalities}
    mixed_fm = {m_: torch.stack([parts[p].frame_mask[m_][i] for i, p in enumerate(pattern)])
                for m_ in full.modalities}
    mixed_pr = torch.stack([parts[p].present[i] for i, p in enumerate(pattern)])
    mixed = replace(full, features=mixed_feats, frame_mask=mixed_fm, present=mixed_pr)
    with torch.no_grad():
        got = m.predict(mixed).score
        for s in ("tav", "ta", "v"):
            net = m.nets()[s]
            _, logits = m._run(s, parts[s], None)
            want = m.task.predict(logits).score
            idx = [i for i, p in enumerate(pattern) if p == s]
            assert torch.allclose(got[idx], want[idx], atol=1e-6), s
            assert net is (m.teacher if s == "tav" else m.students[s])
        # the audio-only student ignores the text and vision inputs entirely
        b = parts["tav"]
        noisy = replace(b, features={**b.features, "text": b.features["text"] + 5.0})
        assert torch.equal(m._run("a", b, None)[1], m._run("a", noisy, None)[1])


def test_sample_with_nothing_present_goes_to_teacher(data):
    m = build(data).eval()
    b = collate_rows(data["test"], [0, 1])
    b = replace(b, present=torch.tensor([[False] * 3, [True] * 3]))
    assert [k for k, _ in m.route(b.present)] == ["tav", "tav"]
    assert torch.isfinite(m.predict(b).score).all()


@pytest.mark.parametrize("extra", [
    ("method_config.share_encoders=true",),
    ("method_config.anchor_mode=teacher", "method_config.contrast_labels=polarity2"),
    ("task.kind=regression",),
    ("task.kind=sentiment7", "method_config.contrast_labels=task"),
])
def test_variants_train_and_predict(data, extra):
    torch.manual_seed(0)
    m = build(data, *extra)
    out = m(collate_rows(data["train"], list(range(16))))
    assert torch.isfinite(out.loss)
    out.loss.backward()
    t_grads = [p.grad for n, p in m.named_parameters() if n.startswith("teacher")]
    assert any(g is not None and g.abs().sum() > 0 for g in t_grads)
    m.eval()
    assert torch.isfinite(m.predict(collate_rows(data["test"], [0, 1, 2])).score).all()


def test_shared_encoders_are_cheaper_and_deployable(data):
    own = build(data)
    shared = build(data, "method_config.share_encoders=true")
    n = lambda mod: sum(p.numel() for p in mod.deployable().parameters())  # noqa: E731
    assert n(shared) < n(own)
    assert any(k.startswith("encoders.") for k in shared.deployable_state_dict())
    assert shared.students["ta"].encoders is None


def test_config_errors(data):
    with pytest.raises(ConfigError, match="anchor_mode"):
        build(data, "method_config.anchor_mode=one")
    with pytest.raises(ConfigError, match="classification"):
        build(data, "task.kind=regression", "method_config.contrast_labels=task")
