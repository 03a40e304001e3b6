"""The fast encoder against torch's ``nn.TransformerEncoder`` (the reference), and its parts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from robustmsa.nn.backbone import BackboneConfig, ModalityEncoder, conv3_time, reuse_encodings
from robustmsa.nn.encoder import fast_dropout, keep_mask, plan_chunks
from robustmsa.nn.reference import TorchModalityEncoder


def _pair(cfg: BackboneConfig, in_dim: int = 6):
    torch.manual_seed(3)
    fast = ModalityEncoder(in_dim, cfg)
    torch.manual_seed(3)
    ref = TorchModalityEncoder(in_dim, cfg)
    return fast, ref


def _masks(b: int = 24, t: int = 11, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ln = torch.randint(1, t + 1, (b,), generator=g)
    m = torch.arange(t)[None] < ln[:, None]
    m[b // 2 :] &= torch.rand(b - b // 2, t, generator=g) > 0.4  # dropped frames inside
    m[0] = False  # a row without any valid frame
    m[1] = True  # a full row
    return m


def test_same_parameter_names_and_initial_weights():
    fast, ref = _pair(BackboneConfig(d_model=8, num_heads=2, num_layers=2, ffn_dim=12))
    a, b = fast.state_dict(), ref.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    fast.load_state_dict(ref.state_dict())  # old checkpoints load as they are


@pytest.mark.parametrize("layers", [1, 2])
def test_evaluation_matches_torch_encoder(layers):
    fast, ref = _pair(BackboneConfig(d_model=8, num_heads=2, num_layers=layers, ffn_dim=12))
    fast.eval(), ref.eval()
    x, m = torch.randn(24, 11, 6), _masks()
    with torch.no_grad():
        ya, yb = fast(x, m), ref(x, m)
    valid = m[..., None]
    assert torch.isfinite(ya).all()
    torch.testing.assert_close(ya * valid, yb * valid, atol=2e-6, rtol=1e-5)


def test_training_without_dropout_matches_values_and_gradients():
    cfg = BackboneConfig(d_model=8, num_heads=2, num_layers=2, ffn_dim=12, dropout=0.0)
    fast, ref = _pair(cfg)
    x, m = torch.randn(24, 11, 6), _masks(seed=1)
    w = torch.randn(24, 11, 8)
    outs = []
    for net in (fast, ref):
        net.train()
        y = net(x, m)
        (y * w * m[..., None]).sum().backward()
        outs.append(y * m[..., None])
    torch.testing.assert_close(outs[0], outs[1], atol=2e-6, rtol=1e-5)
    for (name, p), q in zip(fast.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_attention_dropout_trains_and_eval_ignores_it():
    cfg = BackboneConfig(d_model=8, num_heads=2, num_layers=1, ffn_dim=12, attention_dropout=0.3)
    enc = ModalityEncoder(6, cfg).train()
    x, m = torch.randn(8, 7, 6), _masks(8, 7)
    y = enc(x, m)
    y.sum().backward()
    assert torch.isfinite(y).all() and enc.proj.weight.grad is not None
    enc.eval()
    with torch.no_grad():
        assert torch.equal(enc(x, m), enc(x, m))


def test_packed_groups_equal_one_full_length_pass():
    cfg = BackboneConfig(d_model=8, num_heads=2, num_layers=2, ffn_dim=12)
    enc = ModalityEncoder(6, cfg).eval().encoder
    h = torch.randn(300, 40, 8)
    ln = torch.where(torch.arange(300) % 3 == 0, 40, torch.randint(1, 6, (300,)))  # long/short
    m = torch.arange(40)[None] < ln[:, None]
    assert len(plan_chunks(ln.tolist())) > 1
    with torch.no_grad():
        full = enc._run(h, m | ~m.any(1, keepdim=True))
        packed = enc(h, m)
    torch.testing.assert_close(packed * m[..., None], full * m[..., None], atol=2e-6, rtol=1e-5)
    assert torch.equal(packed[~m], torch.zeros_like(packed[~m]))


def test_plan_chunks_covers_nonempty_rows_once_sorted():
    counts = list(np.random.default_rng(0).integers(0, 51, 300))
    groups = plan_chunks(counts)
    flat = [i for g in groups for i in g]
    assert sorted(flat) == [i for i, c in enumerate(counts) if c > 0]
    assert [counts[i] for i in flat] == sorted(counts[i] for i in flat)
    assert groups == plan_chunks(counts)
    assert plan_chunks([0, 0]) == [] and plan_chunks([5] * 7) == [list(range(7))]


def test_conv3_time_is_conv1d():
    x = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 4, 3, dtype=torch.float64, requires_grad=True)
    ref = F.conv1d(x.transpose(1, 2), w, padding=1).transpose(1, 2)
    torch.testing.assert_close(conv3_time(x, w), ref)
    assert torch.autograd.gradcheck(conv3_time, (x, w))
    one = torch.randn(2, 1, 4, dtype=torch.float64)  # length-1 sequences (mosi_bclstm)
    torch.testing.assert_close(conv3_time(one, w), F.conv1d(one.transpose(1, 2), w, padding=1).transpose(1, 2))


def test_fast_dropout_rate_scale_gradient_and_determinism():
    x = torch.ones(400, 500, requires_grad=True)
    torch.manual_seed(0)
    y = fast_dropout(x, 0.1, True)
    p_used = round(0.1 * 2**16) / 2**16
    kept = y != 0
    assert abs(1 - float(kept.float().mean()) - p_used) < 3e-3
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / (1 - p_used)))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # d(x * mult)/dx = mult
    torch.manual_seed(0)
    assert torch.equal(fast_dropout(x.detach(), 0.1, True), y.detach())
    assert fast_dropout(x, 0.1, False) is x and fast_dropout(x, 0.0, True) is x
    assert torch.equal(fast_dropout(x, 1.0, True), torch.zeros_like(x))
    m = keep_mask((3, 5, 7), 0.5, torch.device("cpu"))  # odd sizes: not a multiple of 4
    assert m.shape == (3, 5, 7) and set(m.unique().tolist()) <= {0.0, 2.0}


def test_reuse_encodings_returns_the_same_result_and_skips_work(monkeypatch):
    enc = ModalityEncoder(6, BackboneConfig(d_model=8, num_heads=2, num_layers=1, ffn_dim=12)).eval()
    x, m = torch.randn(10, 7, 6), _masks(10, 7)
    calls = []
    real = enc._encode
    monkeypatch.setattr(enc, "_encode", lambda a, b: calls.append(1) or real(a, b))
    with torch.no_grad():
        plain = enc(x, m)
        with reuse_encodings([x]):
            a = enc(x, m.clone())
            b = enc(x, m.clone())  # equal mask, same input tensor: reused
            c = enc(x, m & False)  # another mask: computed
            d = enc(x.clone(), m)  # not a registered input: computed
    assert len(calls) == 4 and a is b
    assert torch.equal(a, plain) and torch.equal(d, plain) and not torch.equal(c, plain)


def test_evaluation_encodes_all_zero_rows_once_per_mask():
    enc = ModalityEncoder(6, BackboneConfig(d_model=8, num_heads=2, num_layers=2, ffn_dim=12)).eval()
    x, m = torch.randn(30, 9, 6), _masks(30, 9, seed=2)
    m[5:20] = torch.arange(9)[None] < torch.tensor([3, 9, 9, 4, 3] * 3)[:, None]  # repeated masks
    x[5:20] = 0  # absent modality under the "zeros" convention
    with torch.no_grad():
        fast = enc(x, m)
        enc.train()
        for mod in enc.modules():
            if hasattr(mod, "dropout") and isinstance(mod.dropout, float):
                mod.dropout = 0.0
        slow = enc(x, m)  # training path (no dedupe), dropout off
    torch.testing.assert_close(fast * m[..., None], slow * m[..., None], atol=2e-6, rtol=1e-5)
