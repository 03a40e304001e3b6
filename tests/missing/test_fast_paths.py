"""Vectorised / shortcut paths of the missing-modality engine equal the reference paths."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from tests.conftest import make_tiny_dataset, make_tiny_split, tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.builder import build_method
from robustmsa.evaluation.evaluator import MaskCache, evaluate_conditions, predict_split
from robustmsa.missing import (
    Complete,
    Subset,
    TextSubstitute,
    apply_missing,
    draw_mask,
    parse_condition,
)
from robustmsa.types import MODALITIES


@dataclasses.dataclass(frozen=True)
class PerSample:
    """The same sampler forced through the per-sample loop (the reference path)."""

    inner: object

    @property
    def key(self) -> str:
        return self.inner.key

    def draw_row(self, rng, lengths, seq_lens):
        return self.inner.draw_row(rng, lengths, seq_lens)


@pytest.mark.parametrize("sampler", [Complete(), Subset("ta"), Subset("v"), TextSubstitute()],
                         ids=lambda s: s.key)
def test_fixed_samplers_vectorised_equal_per_sample_loop(sampler):
    split = make_tiny_split(60, seed=2, t=9)
    lengths = {m: v.copy() for m, v in split.lengths.items()}
    lengths["audio"][:5] = 0  # naturally missing audio
    seq = {m: 9 for m in MODALITIES}
    fast = draw_mask(sampler, list(split.ids), lengths, seq, seed=4, split="test")
    ref = draw_mask(PerSample(sampler), list(split.ids), lengths, seq, seed=4, split="test")
    assert torch.equal(fast.present, ref.present)
    assert all(torch.equal(fast.keep[m], ref.keep[m]) for m in MODALITIES)


def test_apply_missing_passes_untouched_modalities_through():
    split = make_tiny_split(20, seed=1, t=8)
    b = collate_rows(split, range(20))
    seq = {m: 8 for m in MODALITIES}
    mask = draw_mask(parse_condition("ta"), list(split.ids), split.lengths, seq, seed=0, split="x")
    out = apply_missing(b, mask)
    assert out.features["text"] is b.features["text"] and out.frame_mask["audio"] is b.frame_mask["audio"]
    assert not out.frame_mask["vision"].any() and (out.features["vision"] == 0).all()
    drop = draw_mask(parse_condition("frame:0.5"), list(split.ids), split.lengths, seq, seed=0, split="x")
    out = apply_missing(b, drop)
    assert out.features["text"] is not b.features["text"]
    assert torch.equal(out.frame_mask["text"], b.frame_mask["text"] & drop.keep["text"])


def test_sweep_with_cached_batches_and_reused_encodings_equals_plain_predictions():
    data = make_tiny_dataset()
    torch.manual_seed(0)
    method = build_method(tiny_config("student"), data.info).eval()
    sp = data["test"]
    conds = ["complete", "t", "av", "frame:0.0", "frame:0.5"]
    cache = MaskCache()
    recs = evaluate_conditions(method, sp, split_name="test", conditions=conds, cache=cache,
                               batch_size=6)
    for cond in conds:
        mask = None if cond == "complete" else MaskCache().get(sp, "test", cond, 0)
        ps = predict_split(method, sp, mask=mask, batch_size=6)  # collated per call, no reuse
        want = method.task.metrics(ps.score, ps.probs, ps.labels)
        got = {r["metric"]: r["value"] for r in recs if r["condition"] == cond and r["metric"] != "coverage"}
        assert got.keys() == want.keys()
        for k, v in want.items():
            assert np.isclose(got[k], v, rtol=1e-6, atol=1e-7, equal_nan=True), (cond, k)


@pytest.mark.parametrize("shared", [False, True])
def test_mrm_counter_generator_distribution(shared):
    from robustmsa.missing import MRM

    split = make_tiny_split(3000, seed=5, t=20)
    seq = {m: 20 for m in MODALITIES}
    mask = draw_mask(MRM(shared_frames=shared), list(split.ids), split.lengths, seq, seed=1,
                     split="train", salt="epoch=3")
    pres = mask.present.numpy()
    subsets = {tuple(r) for r in pres.tolist() if any(r)}
    assert len(subsets) == 7
    assert pres.any(1).all() or shared  # shared drops at rate r may remove every frame
    # each of the 7 subsets about 1/7 of the rows (before all-dropped modalities are removed)
    assert abs(pres[:, 0].mean() - 4 / 7) < 0.05 or shared
    for m in MODALITIES:
        ln = split.lengths[m]
        valid = np.arange(20)[None, :] < ln[:, None]
        dropped = (~mask.keep[m].numpy() & valid).sum(1)
        frac = dropped / ln
        if not shared:  # exactly floor(r * len) frames for r on the 0.0 ... 0.9 grid
            r = np.array([round(0.1 * i, 1) for i in range(10)])
            ok = np.isclose(dropped[:, None], np.floor(r[None, :] * ln[:, None] + 1e-9)).any(1)
            assert ok.all()
        assert 0.35 < frac.mean() < 0.55  # mean ratio 0.45


def test_mrm_generator_1_is_the_per_sample_numpy_sampler():
    from robustmsa.missing import MRM

    split = make_tiny_split(50, seed=6, t=10)
    seq = {m: 10 for m in MODALITIES}
    old = MRM(generator=1)
    assert old.key == "mrm:0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9||0"  # the original key
    a = draw_mask(old, list(split.ids), split.lengths, seq, seed=0, split="train")
    b = draw_mask(PerSample(old), list(split.ids), split.lengths, seq, seed=0, split="train")
    assert torch.equal(a.present, b.present)
    assert MRM().key != old.key


def test_fast_paths_with_explicit_frame_masks():
    from robustmsa.missing import MRM

    split = make_tiny_split(200, seed=7, t=12)
    rng = np.random.default_rng(0)
    valid = {m: (rng.random((200, 12)) > 0.3) & (np.arange(12)[None] < split.lengths[m][:, None])
             for m in MODALITIES}
    valid["audio"][:10] = False  # no real frame at all
    seq = {m: 12 for m in MODALITIES}
    for s in (Subset("tv"), Complete()):
        a = draw_mask(s, list(split.ids), split.lengths, seq, seed=0, split="x", valid=valid)
        b = draw_mask(PerSample(s), list(split.ids), split.lengths, seq, seed=0, split="x", valid=valid)
        assert torch.equal(a.present, b.present) and torch.equal(a.requested, b.requested)
    m = draw_mask(MRM(), list(split.ids), split.lengths, seq, seed=0, split="x", valid=valid)
    for mod in MODALITIES:
        keep = m.keep[mod].numpy()
        assert keep[~valid[mod]].all()  # only real frames are ever dropped
        dropped = (~keep & valid[mod]).sum(1)
        n_real = valid[mod].sum(1)
        r = np.array([round(0.1 * i, 1) for i in range(10)])
        assert np.isclose(dropped[:, None], np.floor(r[None] * n_real[:, None] + 1e-9)).any(1).all()
        assert not m.present[:10, 1].any()
