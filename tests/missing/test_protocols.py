"""Missing-modality engine: subsets, rates, determinism, apply_missing purity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.conftest import make_tiny_split

from robustmsa.data.dataset import collate_rows
from robustmsa.evaluation.evaluator import MaskCache
from robustmsa.missing import (
    MRM,
    BlockDrop,
    FrameDrop,
    LNLNTrain,
    ModalityRandomDrop,
    SampleModalityRate,
    Subset,
    all_subsets,
    apply_missing,
    draw_mask,
    parse_condition,
    parse_subset,
    subset_name,
)
from robustmsa.types import MODALITIES

N = 400


@pytest.fixture(scope="module")
def split():
    return make_tiny_split(N, seed=3, t=20)


def _mask(sampler, split, seed=0, ids=None, name="test"):
    ids = list(split.ids) if ids is None else ids
    seq = {m: x.shape[1] for m, x in split.features.items()}
    return draw_mask(sampler, ids, split.lengths, seq, seed=seed, split=name)


def test_all_subsets_enumerates_2_pow_m_minus_1():
    subs = all_subsets(MODALITIES)
    assert len(subs) == 7 and len(set(subs)) == 7
    assert [subset_name(s) for s in subs] == ["t", "a", "v", "ta", "tv", "av", "tav"]
    assert len(all_subsets(("text", "audio"))) == 3


def test_parse_subset_and_conditions():
    assert parse_subset("at") == ("text", "audio")
    assert parse_subset("text,vision") == ("text", "vision")
    with pytest.raises(ValueError, match="unknown modality"):
        parse_subset("tx")
    assert parse_condition("frame:0.3:shared").shared
    assert parse_condition("frame:0.3:text=0").rate_of("text") == 0.0
    assert parse_condition("eta:0.5") == SampleModalityRate(0.5)
    with pytest.raises(ValueError, match="unknown condition"):
        parse_condition("bogus")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        parse_condition("frame:1.5")


@pytest.mark.parametrize("sub", ["t", "a", "v", "ta", "tv", "av", "tav"])
def test_subset_presence(split, sub):
    m = _mask(Subset(sub), split)
    want = torch.tensor([mm in parse_subset(sub) for mm in MODALITIES])
    assert (m.present == want).all()


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.7, 1.0])
def test_frame_drop_rate_and_padding(split, rate):
    m = _mask(FrameDrop(rate), split)
    for mod in MODALITIES:
        ln = torch.as_tensor(split.lengths[mod])
        valid = torch.arange(20)[None, :] < ln[:, None]
        dropped = (~m.keep[mod] & valid).sum() / valid.sum()
        assert abs(float(dropped) - rate) < 0.04
        assert m.keep[mod][~valid].all(), "padding must never be counted as dropped"
    if rate == 1.0:
        assert not m.present.any(), "a modality with every frame dropped is not present"


def test_frame_drop_shared_positions(split):
    m = _mask(FrameDrop(0.5, shared=True), split)
    ln = {k: torch.as_tensor(v) for k, v in split.lengths.items()}
    both = (torch.arange(20)[None] < ln["text"][:, None]) & (torch.arange(20)[None] < ln["audio"][:, None])
    assert torch.equal(m.keep["text"] & both, m.keep["audio"] & both)


def test_frame_drop_overrides(split):
    m = _mask(FrameDrop(0.9, overrides=(("text", 0.0),)), split)
    assert m.keep["text"].all()
    assert not m.keep["audio"].all()


def test_block_drop_is_contiguous(split):
    m = _mask(BlockDrop(0.5), split)
    for i in range(20):
        k = m.keep["audio"][i].numpy()
        idx = np.flatnonzero(~k)
        ln = int(split.lengths["audio"][i])
        assert len(idx) == int(round(0.5 * ln))
        if len(idx):
            assert idx.max() - idx.min() + 1 == len(idx) and idx.max() < ln


@pytest.mark.parametrize("eta", [0.0, 0.2, 0.5, 2 / 3])
def test_sample_modality_rate(split, eta):
    m = _mask(SampleModalityRate(eta), split)
    assert m.present.any(1).all(), "at least one modality kept"
    assert abs(float((~m.present).float().mean()) - eta) < 0.05


def test_sample_modality_rate_rejects_eta_too_high(split):
    with pytest.raises(ValueError, match="eta"):
        _mask(SampleModalityRate(0.9), split)


def test_modality_random_drop_and_lnln(split):
    m = _mask(ModalityRandomDrop((("audio", 1.0), ("vision", 0.5))), split)
    assert not m.present[:, 1].any() and m.present.any(1).all()
    assert 0.35 < float(m.present[:, 2].float().mean()) < 0.65
    m = _mask(LNLNTrain(), split)
    complete = torch.stack([m.keep[k].all(1) for k in MODALITIES], 1).all(1)
    assert 0.4 < float(complete.float().mean()) < 0.65


def test_mrm_covers_all_subsets_and_ratios(split):
    m = _mask(MRM(), split)
    names = {subset_name(tuple(mm for j, mm in enumerate(MODALITIES) if r[j])) for r in m.present.tolist()}
    assert names >= {"t", "a", "v", "ta", "tv", "av", "tav"}
    assert m.present.any(1).all()


@pytest.mark.parametrize("cond", ["frame:0.4", "eta:0.4", "mrm", "block:0.3", "lnln"])
def test_mask_independent_of_batch_size_order_and_subset(split, cond):
    """The mask of a sample depends only on (seed, split, id, condition)."""
    s = parse_condition(cond)
    full = _mask(s, split)
    rng = np.random.default_rng(0)
    perm = rng.permutation(N)
    for bs in (1, 7, 64):
        for start in range(0, 60, bs):
            rows = perm[start : start + bs]
            part = draw_mask(s, [split.ids[i] for i in rows], {k: v[rows] for k, v in split.lengths.items()},
                             {k: 20 for k in MODALITIES}, seed=0, split="test")
            assert torch.equal(part.present, full.present[rows])
            for k in MODALITIES:
                assert torch.equal(part.keep[k], full.keep[k][rows])
    other = _mask(s, split, seed=1)
    assert not all(torch.equal(other.keep[k], full.keep[k]) for k in MODALITIES) or \
        not torch.equal(other.present, full.present)
    assert not torch.equal(_mask(s, split, name="valid").keep["text"], full.keep["text"]) or cond == "eta:0.4"


def test_mask_cache_identical_across_processes_and_calls(split):
    a = MaskCache().get(split, "test", "frame:0.5", 3)
    b = MaskCache().get(split, "test", "frame:0.5", 3)
    assert torch.equal(a.keep["vision"], b.keep["vision"])


def test_apply_missing_zeroes_and_leaves_input_unchanged(split):
    b = collate_rows(split, list(range(30)))
    before = {k: v.clone() for k, v in b.features.items()}
    m = _mask(FrameDrop(0.5), split).select(torch.arange(30))
    m2 = _mask(Subset("ta"), split).select(torch.arange(30))
    out = apply_missing(apply_missing(b, m), m2)
    for k in MODALITIES:
        assert torch.equal(b.features[k], before[k])
        dropped = ~out.frame_mask[k]
        assert (out.features[k][dropped] == 0).all()
        kept = out.frame_mask[k]
        assert torch.equal(out.features[k][kept], b.features[k][kept])
    assert not out.present[:, 2].any() and out.frame_mask["vision"].sum() == 0
