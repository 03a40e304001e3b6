"""The field's missing-modality baselines (MCTN, TransM, SMIL, GCNet, MMIN): their losses and
layers against naive loop references, their missingness samplers, group batching, and
degenerate input (a modality missing everywhere, one class, a batch of one)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tests.conftest import tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.data.groups import batch_rows, shard_rows, utterance_order
from robustmsa.data.synthetic import make_synthetic_msa
from robustmsa.engine.builder import build_method
from robustmsa.engine.trainer import Trainer
from robustmsa.errors import DataError
from robustmsa.evaluation.evaluator import predict_split
from robustmsa.losses.reconstruction import masked_frame_loss, masked_recon_loss
from robustmsa.methods.mmin import reverse_mask
from robustmsa.methods.smil import PriorReconstruction
from robustmsa.missing import apply_missing, draw_mask, parse_condition
from robustmsa.nn.autoencoder import CascadeResidualAE
from robustmsa.nn.graph import Conversations, GraphConvLayer, RGCNLayer, window_relations

NEW = ("mctn", "transm", "smil", "gcnet", "mmin")


def build(name, data, teacher, *extra):
    cfg = tiny_config(name, *extra, teacher=teacher if name == "mmin" else "")
    return build_method(cfg, data.info)


def masked(batch, cond, seed=0):
    seq = {m: batch.features[m].shape[1] for m in batch.modalities}
    return draw_mask(parse_condition(cond), list(batch.ids), batch.lengths, seq, seed=seed,
                     split="train")


# --- groups, graphs and layers ---------------------------------------------------------------
def test_utterance_order_is_natural_and_batch_rows_keep_groups_whole():
    ids = ["v_10", "v_2", "w_1", "v_1", "w_3"]
    groups = ["v", "v", "w", "v", "w"]
    assert utterance_order(ids, groups).tolist() == [2, 1, 0, 0, 1]
    g = np.array(["a"] * 5 + ["b"] * 2 + ["c"] * 9 + ["d"])
    order = np.random.default_rng(0).permutation(len(g))
    batches = batch_rows(order, 6, g)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(g)))
    for b in batches:  # whole groups; only a group larger than the batch exceeds it
        names = set(g[b])
        assert all((g[b] == n).sum() == (g == n).sum() for n in names)
        assert len(b) <= 6 or len(names) == 1
    chunks = batch_rows(order, 6)
    assert [c.tolist() for c in chunks] == [order[s:s + 6].tolist() for s in range(0, 17, 6)]
    shards = [shard_rows(batches[0], r, 2, g) for r in range(2)]
    assert sorted(np.concatenate(shards).tolist()) == sorted(batches[0].tolist())
    assert not set(g[shards[0]]) & set(g[shards[1]])


def test_window_relations_match_a_naive_loop():
    ids = [f"x_{i}" for i in (3, 1, 2, 5, 1, 4)]
    groups = ["x", "x", "x", "x", "y", "x"]
    convs = Conversations.build(ids, groups)
    rel = window_relations(convs, 2, 1)
    pos = utterance_order(ids, groups)
    ref = torch.zeros(3, 6, 6)
    for i in range(6):
        for j in range(6):
            if groups[i] == groups[j] and pos[i] - 2 <= pos[j] <= pos[i] + 1:
                ref[0 if pos[j] < pos[i] else 1 if i == j else 2, i, j] = 1
    assert torch.equal(rel, ref)
    x = torch.randn(6, 3)
    assert torch.equal(convs.unpad(convs.pad(x)), x)
    alone = Conversations.build(ids, None)  # no groups: every row its own conversation
    assert torch.equal(window_relations(alone, 2, 2).sum(0), torch.eye(6))


def test_rgcn_and_graphconv_match_naive_loops():
    torch.manual_seed(0)
    adj = (torch.rand(3, 5, 5) < 0.4).float()
    x = torch.randn(5, 4)
    rg, gc = RGCNLayer(4, 3, 3), GraphConvLayer(4, 3)
    ref = []
    for i in range(5):
        out = rg.root(x[i])
        for r in range(3):
            nb = [j for j in range(5) if adj[r, i, j]]
            if nb:
                out = out + torch.stack([x[j] @ rg.weight[r] for j in nb]).mean(0)
        ref.append(out)
    assert torch.allclose(rg(x, adj), torch.stack(ref), atol=1e-5)
    a = adj[0]
    ref = torch.stack([gc.root(x[i]) + gc.rel(sum((x[j] for j in range(5) if a[i, j]),
                                                  torch.zeros(4))) for i in range(5)])
    assert torch.allclose(gc(x, a), ref, atol=1e-5)


# --- losses and nets against loops -----------------------------------------------------------
def test_masked_losses_match_naive_loops():
    torch.manual_seed(0)
    pred, target = torch.randn(3, 4, 2), torch.randn(3, 4, 2)
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 1]], dtype=torch.bool)
    for kind, f in (("mse", lambda d: d * d), ("mae", abs)):
        vals = [float(f(pred[b, t, k] - target[b, t, k])) for b in range(3) for t in range(4)
                for k in range(2) if mask[b, t]]
        assert masked_frame_loss(pred, target, mask, kind).item() == pytest.approx(np.mean(vals))
    assert masked_frame_loss(pred, target, torch.zeros(3, 4, dtype=torch.bool)).item() == 0.0
    widths = [2, 3]
    rec, tgt = torch.randn(4, 5), torch.randn(4, 5)
    miss = torch.tensor([[1, 0], [0, 0], [1, 1], [0, 1]], dtype=torch.bool)
    ref = 0.0
    for u in range(4):
        start = 0
        for k, d in enumerate(widths):
            if miss[u, k]:
                ref += float(((rec[u, start:start + d] - tgt[u, start:start + d]) ** 2).sum()) / d
            start += d
    assert masked_recon_loss(rec, tgt, miss, widths).item() == pytest.approx(ref / 4, rel=1e-5)
    assert masked_recon_loss(rec, tgt, torch.zeros(4, 2, dtype=torch.bool), widths).item() == 0.0


def test_cascade_residual_ae_and_prior_reconstruction_match_loops():
    torch.manual_seed(0)
    ae = CascadeResidualAE(6, (5, 3), n_blocks=3)
    h = torch.randn(2, 6)
    x, out, zs = h, torch.zeros(2, 6), []
    for k in range(3):
        x = x + out
        z = ae.encoders[k](x)
        out = ae.decoders[k](z)
        zs.append(z)
    h_hat, lat = ae(h)
    assert torch.allclose(h_hat, ae.transition(x + out)) and torch.allclose(lat, torch.cat(zs, -1))
    assert lat.shape == (2, ae.latent_dim) == (2, 9)
    pr = PriorReconstruction(4, 3, 5)
    f = torch.randn(2, 4)
    w = F.softplus(pr.weights(f))
    ref = torch.stack([sum(w[b, k] * pr.priors[k] for k in range(5)) / w[b].sum() for b in range(2)])
    assert torch.allclose(pr(f), ref, atol=1e-6)


# --- samplers --------------------------------------------------------------------------------
def test_random_subset_and_severe_samplers():
    ids = [str(i) for i in range(600)]
    lens = {m: np.full(600, 4) for m in ("text", "audio", "vision")}
    seq = {m: 4 for m in lens}
    rs = draw_mask(parse_condition("random_subset"), ids, lens, seq, seed=0, split="train")
    pats = {tuple(r) for r in rs.present.tolist()}
    assert len(pats) == 6 and (True, True, True) not in pats
    sev = parse_condition("severe:text=0.9")
    a, b = (draw_mask(sev, ids, lens, seq, seed=0, split="train", salt=f"epoch={e}") for e in (0, 1))
    assert torch.equal(a.present, b.present)  # data that is missing stays missing
    assert 0.85 < 1 - a.present[:, 0].float().mean() < 0.95 and a.present[:, 1:].all()
    assert parse_condition("random_subset:t/av").key == "random_subset:t/av"
    with pytest.raises(ValueError, match="severe"):
        parse_condition("severe:text=1.5")


# --- method behaviour ------------------------------------------------------------------------
def test_mctn_uses_the_source_only(tiny_data, tiny_teacher):
    m = build("mctn", tiny_data, tiny_teacher).eval()
    b = collate_rows(tiny_data["test"], list(range(8)))
    base = m.predict(b).score
    no_targets = m.predict(apply_missing(b, masked(b, "t"))).score
    assert torch.allclose(base, no_targets)
    no_source = m.predict(apply_missing(b, masked(b, "av"))).score
    # zero source: one prediction per source length ("zeros" pools over the true length)
    lens = b.lengths["text"]
    for n in lens.unique():
        same = no_source[lens == n]
        assert torch.allclose(same, same[:1].expand_as(same))
    m_mask = build("mctn", tiny_data, tiny_teacher, "model.missing_input=mask").eval()
    no_source = m_mask.predict(apply_missing(b, masked(b, "av"))).score
    assert torch.allclose(no_source, no_source[:1].expand(8))  # "mask": one prediction


def test_gcnet_predictions_use_whole_videos_only(tiny_data, tiny_teacher):
    m = build("gcnet", tiny_data, tiny_teacher).eval()
    sp = tiny_data["test"]
    small = predict_split(m, sp, mask=None, batch_size=3).score
    large = predict_split(m, sp, mask=None, batch_size=256).score
    assert np.allclose(small, large, atol=1e-6)  # batches of whole videos: size-independent
    other = replace(sp, features={k: v.copy() for k, v in sp.features.items()})
    other.features["text"][sp.groups == "v1"] += 5.0  # another video changes...
    moved = predict_split(m, other, mask=None).score
    keep = sp.groups != "v1"
    assert np.allclose(moved[keep], large[keep], atol=1e-6)  # ...nothing outside it
    assert not np.allclose(moved[~keep], large[~keep])


def test_gcnet_needs_groups_to_train(tiny_data, tmp_path):
    splits = {k: replace(v, groups=None) for k, v in tiny_data.splits.items()}
    flat = type(tiny_data)(splits, tiny_data.info)
    with pytest.raises(DataError, match="gcnet.*'tiny'.*no grouping"):
        Trainer(tiny_config("gcnet"), flat, tmp_path).fit()


def test_mmin_imagines_the_teacher_embedding_of_the_reverse_input(tiny_data, tiny_teacher):
    torch.manual_seed(0)
    m = build("mmin", tiny_data, tiny_teacher).eval()  # no dropout: forward and reference agree
    b = collate_rows(tiny_data["train"], list(range(6)))
    mk = masked(b, "random_subset")
    rev = reverse_mask(b, mk)
    assert torch.equal(rev.present, b.present & ~mk.present)
    out = m(replace(b, train_mask=mk))
    h, h_hat, logits = m.imagine(apply_missing(b, mk))
    t = m.teacher(apply_missing(b, rev)).joint
    assert out.losses["imagination"].item() == pytest.approx(F.mse_loss(h_hat, t).item(), rel=1e-4)
    w = m.cfg
    assert out.loss.item() == pytest.approx(
        w.task_weight * out.losses["task"].item() + w.imagination_weight
        * out.losses["imagination"].item() + w.cycle_weight * out.losses["cycle"].item(), rel=1e-5)
    enc = m.student["backbone"].encoders.state_dict()  # initialised from the teacher
    assert all(torch.equal(v, m.teacher.net.encoders.state_dict()[k]) for k, v in enc.items())


def test_smil_inner_and_outer_parts_on_degenerate_batches(tiny_data, tiny_teacher):
    torch.manual_seed(0)
    m = build("smil", tiny_data, tiny_teacher).train()
    b = collate_rows(tiny_data["train"], list(range(6)))
    all_missing = m(replace(b, train_mask=masked(b, "ta")))  # vision missing everywhere
    assert all_missing.losses["outer_task"].item() == 0.0 and all_missing.losses["inner_task"] > 0
    complete = m(replace(b, train_mask=masked(b, "complete")))
    assert complete.losses["inner_task"].item() == 0.0 and complete.losses["outer_task"] > 0
    f, avail = m.features(b)
    av = avail.clone()
    av[:, 2] = False
    h = m.fill(f, av).view(6, 3, -1)
    assert torch.allclose(h[:, :2], f[:, :2])  # available slots kept, the missing one rebuilt
    assert torch.allclose(h[:, 2], m.student["recon"]["vision"](f[:, :2].flatten(1)))


@pytest.mark.parametrize("name", NEW)
def test_one_class_batch_and_text_missing_everywhere(name, tiny_data, tiny_teacher):
    torch.manual_seed(0)
    m = build(name, tiny_data, tiny_teacher).train()
    sp = tiny_data["train"]
    rows = [i for i in range(len(sp)) if sp.labels[i] >= 0][:6]  # one polarity class
    b = collate_rows(sp, rows)
    for cond in ("av", m.train_missing or "complete"):
        out = m(replace(b, train_mask=masked(b, cond)))
        assert torch.isfinite(out.loss) and all(torch.isfinite(v) for v in out.losses.values())
        out.loss.backward()


# --- data and costs --------------------------------------------------------------------------
def test_synthetic_grouping_does_not_change_features():
    a = make_synthetic_msa(20, 5, 5, seq_len=6, random_state=3)
    b = make_synthetic_msa(20, 5, 5, seq_len=6, random_state=3, clips_per_video=7)
    assert a["train"].groups is None
    assert b["train"].groups.tolist()[6:8] == ["train_v00000", "train_v00001"]
    assert all(np.array_equal(a["test"].features[k], b["test"].features[k]) for k in a.info.dims)


def test_costs_and_benchmark_cost_columns(tiny_data, tmp_path):
    from robustmsa.benchmark import load_benchmark_config, run_benchmark
    from robustmsa.evaluation.costs import COST_KEYS, _rnn_layer_flops

    assert _rnn_layer_flops((7, 4, 10), (80, 10), (80, 20)) == 2 * 28 * (80 * 10 + 80 * 20)
    cfg = tmp_path / "b.yaml"
    cfg.write_text(
        f"out_dir: {tmp_path / 'out'}\nseeds: [0]\nmask_seeds: [0]\nprotocols: [subsets]\n"
        "base:\n  train: {epochs: 1, batch_size: 16, progress: false}\n"
        "  model: {d_model: 8, num_heads: 2, num_layers: 1, ffn_dim: 16}\n"
        "runs:\n  - {name: teacher, method: teacher}\n  - {name: mmin, method: mmin}\n"
        "  - {name: gcnet, method: gcnet}\n")
    report = run_benchmark(load_benchmark_config(cfg), data=tiny_data)
    import json

    prof = json.loads((tmp_path / "out" / "cost_profile.json").read_text())
    assert set(prof) == {"teacher", "mmin", "gcnet"}
    for row in prof.values():
        assert set(COST_KEYS) <= set(row)
        assert row["mflops_infer_per_clip"] > 0 and row["mflops_train_per_clip"] > 0
        assert row["ms_per_clip_b1"] > 0 and row["threads"] == 1
    assert prof["mmin"]["params_frozen"] > 0 and prof["teacher"]["params_frozen"] == 0
    assert "mflops_infer_per_clip" in report.read_text()
