"""Simulated conditions on top of natural missingness: explicit frame masks, never restoring a
naturally absent modality or frame, MRM on the modalities a sample has, coverage records."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.data.prepare import norm_stats_payload, prepare_for_checkpoint
from robustmsa.data.schema import MSASplit
from robustmsa.data.transforms import fit_norm_stats
from robustmsa.engine.builder import build_method
from robustmsa.evaluation.evaluator import evaluate_conditions
from robustmsa.missing import (
    MRM,
    BlockDrop,
    FrameDrop,
    Subset,
    apply_missing,
    coverage,
    draw_mask,
    draw_split_mask,
)


def gappy_split(n: int = 40, t: int = 10, seed: int = 0) -> MSASplit:
    """Audio with random gaps anywhere (explicit masks), vision absent for every 3rd sample,
    text complete (prefix lengths)."""
    rng = np.random.default_rng(seed)
    feats, lens, valid = {}, {}, {}
    for m, d in (("text", 4), ("audio", 3), ("vision", 2)):
        x = rng.normal(size=(n, t, d)).astype(np.float32) + 2.0
        if m == "audio":
            v = rng.random((n, t)) < 0.6
            v[:, 0] |= ~v.any(1)  # at least one frame
        elif m == "vision":
            v = np.ones((n, t), bool)
            v[::3] = False
        else:
            v = np.ones((n, t), bool)
        x[~v] = 0
        span = np.where(v.any(1), t - np.argmax(v[:, ::-1], axis=1), 0)
        feats[m], lens[m] = x, span
        if m == "audio":
            valid[m] = v
    y = rng.uniform(-3, 3, n).astype(np.float32)
    return MSASplit(feats, lens, y, np.array([f"s{i}" for i in range(n)]), frame_valid=valid)


def test_collate_and_standardise_use_the_explicit_mask() -> None:
    sp = gappy_split()
    b = collate_rows(sp, list(range(len(sp))))
    np.testing.assert_array_equal(b.frame_mask["audio"].numpy(), sp.frame_valid["audio"])
    assert b.present[:, 2].numpy().tolist() == (sp.lengths["vision"] > 0).tolist()
    stats = fit_norm_stats(sp)
    real = sp.features["audio"][sp.frame_valid["audio"]]
    np.testing.assert_allclose(stats["audio"][0], real.mean(0), rtol=1e-5)
    tiny = make_tiny_dataset()  # prefix data unchanged by the new code path
    ds = prepare_for_checkpoint(_ck(tiny, fit_norm_stats(tiny["train"])), tiny)
    z = replace(sp, features={m: x.copy() for m, x in sp.features.items()})
    from robustmsa.data.schema import MSADataset, infer_info

    zd = MSADataset({"train": z}, infer_info({"train": z}, name="g", source="t"))
    std = prepare_for_checkpoint(_ck(zd, stats), zd)
    assert not std["train"].features["audio"][~sp.frame_valid["audio"]].any()  # gaps stay 0
    assert ds["train"].features["text"].dtype == np.float32


def _ck(ds, stats) -> dict:
    """The fields of a checkpoint `prepare_for_checkpoint` reads."""
    return {"dataset_info": ds.info.to_dict(), "normalization": norm_stats_payload(stats)}


@pytest.mark.parametrize("sampler", [FrameDrop(0.5), FrameDrop(0.3, exact=True), BlockDrop(0.4),
                                     MRM()])
def test_drops_only_real_frames_and_never_restore(sampler) -> None:
    sp = gappy_split()
    mask = draw_split_mask(sampler, sp, seed=3, split_name="test")
    b = apply_missing(collate_rows(sp, list(range(len(sp)))), mask)
    for m in sp.modalities:
        assert not (b.frame_mask[m].numpy() & ~sp.valid_mask(m)).any()  # nothing restored
        x = b.features[m].numpy()
        assert not x[~b.frame_mask[m].numpy()].any()  # missing entries exactly zero
    assert not (b.present[:, 2].numpy() & (sp.lengths["vision"] == 0)).any()


def test_rates_count_real_frames_in_valid_frame_order() -> None:
    sp = gappy_split(n=200)
    mask = draw_split_mask(FrameDrop(0.3, exact=True), sp, seed=0, split_name="test")
    v = sp.frame_valid["audio"]
    kept = (mask.keep["audio"].numpy() & v).sum(1)
    np.testing.assert_array_equal(kept, v.sum(1) - np.floor(0.3 * v.sum(1) + 1e-9))
    # a contiguous block in valid-frame order
    blk = draw_split_mask(BlockDrop(0.5), sp, seed=1, split_name="test").keep["audio"].numpy()
    for i in range(20):
        pos = np.flatnonzero(v[i])
        dropped = np.flatnonzero(~blk[i][pos])
        assert len(dropped) == int(round(0.5 * len(pos)))
        assert len(dropped) == 0 or dropped[-1] - dropped[0] + 1 == len(dropped)


def test_prefix_data_masks_identical_with_or_without_valid() -> None:
    sp = make_tiny_dataset()["test"]
    seq = {m: sp.features[m].shape[1] for m in sp.modalities}
    prefix = {m: sp.valid_mask(m) for m in sp.modalities}
    for sampler in (FrameDrop(0.4), BlockDrop(0.3), MRM(), FrameDrop(0.5, exact=True)):
        a = draw_mask(sampler, list(sp.ids), sp.lengths, seq, seed=5, split="test")
        b = draw_mask(sampler, list(sp.ids), sp.lengths, seq, seed=5, split="test", valid=prefix)
        assert torch.equal(a.present, b.present)
        for m in sp.modalities:  # identical on real frames (padding decisions are irrelevant)
            assert torch.equal(a.keep[m] & torch.from_numpy(prefix[m]),
                               b.keep[m] & torch.from_numpy(prefix[m]))


def test_mrm_asks_only_for_modalities_a_sample_has() -> None:
    sp = gappy_split(n=300)
    mask = draw_split_mask(MRM(), sp, seed=0, split_name="train")
    no_vision = sp.lengths["vision"] == 0
    req = mask.requested.numpy()
    assert not req[no_vision, 2].any()  # never asks for the absent vision
    assert mask.present.numpy()[no_vision].any(1).all()  # so never an empty sample
    # complete samples still draw all 7 subsets
    assert len({tuple(r) for r in req[~no_vision]}) == 7


def test_coverage_rule() -> None:
    sp = gappy_split(n=30)
    nat = np.stack([sp.lengths[m] > 0 for m in sp.modalities], 1)
    has_v = nat[:, 2]
    assert coverage(nat, None) == pytest.approx(has_v.mean())  # complete asks for everything
    for cond, want in (("ta", 1.0), ("v", has_v.mean()), ("tv", has_v.mean())):
        m = draw_split_mask(Subset(cond), sp, seed=0, split_name="test")
        assert coverage(nat, m) == pytest.approx(want), cond
    full = draw_split_mask(FrameDrop(1.0), sp, seed=0, split_name="test")
    assert coverage(nat, full) == 0.0


def test_evaluation_records_coverage_and_counts_samples_as_they_are() -> None:
    sp = gappy_split(n=24)
    from robustmsa.data.schema import infer_info

    info = infer_info({"test": sp}, name="gappy", source="t")
    method = build_method(tiny_config("teacher"), info)
    recs = evaluate_conditions(method, sp, split_name="test", conditions=["complete", "v", "av"],
                               mask_seeds=[0])
    cov = {r["condition"]: r["value"] for r in recs if r["metric"] == "coverage"}
    assert cov == pytest.approx({"complete": 2 / 3, "v": 2 / 3, "av": 2 / 3})
    # every sample is scored under "v", including those without vision (as they really are)
    assert any(r["metric"] == "F1" and r["condition"] == "v" for r in recs)


@pytest.mark.parametrize("cond", ["eta:0.6", "mdrop:audio=0.9,vision=0.9,text=0.9"])
def test_at_least_one_real_modality_kept(cond) -> None:
    from robustmsa.missing import parse_condition

    sp = gappy_split(n=300)
    mask = draw_split_mask(parse_condition(cond), sp, seed=0, split_name="test")
    assert mask.present.numpy().any(1).all()  # never an empty sample
    # complete samples draw exactly as on complete data (their rows depend on their id only)
    full = replace(sp, lengths={m: np.full(len(sp), 10) for m in sp.modalities}, frame_valid={})
    ref = draw_split_mask(parse_condition(cond), full, seed=0, split_name="test")
    rows = (sp.lengths["vision"] > 0)
    assert torch.equal(mask.requested[rows], ref.requested[rows])


@pytest.mark.parametrize("cond", ["random_subset", "random_subset:tv/v", "severe:vision=0.9",
                                  "severe:text=0.5,audio=0.5,vision=0.9"])
def test_mmin_and_smil_samplers_choose_among_what_a_sample_has(cond) -> None:
    """`random_subset` (MMIN) and `severe:` (SMIL) on data with a naturally absent modality:
    never ask for it, never leave a sample empty, and complete samples draw as on complete
    data."""
    from robustmsa.missing import parse_condition

    sp = gappy_split(n=300)
    sampler = parse_condition(cond)
    mask = draw_split_mask(sampler, sp, seed=0, split_name="train", salt="epoch=3")
    no_vision = sp.lengths["vision"] == 0
    pres = mask.present.numpy()
    assert pres.any(1).all()  # never an empty sample
    assert not pres[no_vision, 2].any()  # nothing restored
    if cond.startswith("random_subset"):
        assert not mask.requested.numpy()[no_vision, 2].any()  # never asked for
        got = {tuple(r) for r in pres[no_vision].tolist()}
        want = {(True, False, False), (False, True, False), (True, True, False)} \
            if cond == "random_subset" else {(True, False, False)}  # tv cut to t; v unfit
        assert got == want
    else:  # static: the epoch does not matter
        again = draw_split_mask(sampler, sp, seed=0, split_name="train", salt="epoch=4")
        assert torch.equal(mask.present, again.present)
    full = replace(sp, lengths={m: np.full(len(sp), 10) for m in sp.modalities}, frame_valid={})
    ref = draw_split_mask(sampler, full, seed=0, split_name="train", salt="epoch=3")
    rows = ~no_vision
    assert torch.equal(mask.requested[rows], ref.requested[rows])
