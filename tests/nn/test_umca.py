"""UMCA attention blocks and the MIA residual autoencoder: formulas, padding masks, no NaN."""

from __future__ import annotations

import math

import pytest
import torch

from robustmsa.nn.umca import (
    AttentionPooling,
    MultiQueryCrossAttention,
    ResidualAE,
    UMCANet,
    masked_softmax,
)


def test_masked_softmax_empty_rows_are_zero():
    x = torch.randn(2, 4, requires_grad=True)
    mask = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0]], dtype=torch.bool)
    p = masked_softmax(x, mask)
    assert torch.allclose(p[0, [0, 2]], torch.softmax(x[0, [0, 2]], 0))
    assert p[0, [1, 3]].abs().sum() == 0 and p[1].abs().sum() == 0
    p.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_attention_pooling_formula_and_padding():
    torch.manual_seed(0)
    pool = AttentionPooling(4, dropout=0.5, scale=0.3).eval()
    h = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    with torch.no_grad():
        out = pool(h, mask)
        _check_pooling_reference(pool, h, mask, out)
    # padded frames do not matter; an empty sequence pools to exactly 0
    h2 = h.clone()
    h2[0, 3:] = 100.0
    assert torch.allclose(pool(h2, mask), out)
    empty = pool(h, torch.zeros(2, 5, dtype=torch.bool))
    assert empty.abs().sum() == 0


def _check_pooling_reference(pool, h, mask, out):
    # loop reference of e_t = tanh(h_t P + p).c, alpha = softmax(0.3 e) over valid frames
    for b in range(h.shape[0]):
        valid = [t for t in range(h.shape[1]) if mask[b, t]]
        e = [float(torch.tanh(pool.proj(h[b, t])) @ pool.query[:, 0]) for t in valid]
        z = sum(math.exp(0.3 * v) for v in e)
        ref = sum(math.exp(0.3 * v) / z * h[b, t] for v, t in zip(e, valid, strict=True))
        assert torch.allclose(out[b], ref, atol=1e-6)


def test_cross_attention_formula_and_padding():
    torch.manual_seed(0)
    ca = MultiQueryCrossAttention(4, dropout=0.5, scale=0.3).eval()
    h = torch.randn(2, 6, 4)
    q = torch.randn(2, 7, 4)
    mask = torch.tensor([[1] * 4 + [0] * 2, [1] * 6], dtype=torch.bool)
    out = ca(h, mask, q)
    assert out.shape == (2, 7, 4)
    b, k = 0, 3
    keys = torch.tanh(ca.key(h[b, :4]))  # (4, d) valid frames only
    att = torch.softmax(0.3 * keys @ ca.q(q[b, k]), 0)
    assert torch.allclose(out[b, k], att @ h[b, :4], atol=1e-6)
    h2 = h.clone()
    h2[0, 4:] = -50.0
    assert torch.allclose(ca(h2, mask, q), out)
    x = torch.randn(1, 3, 4, requires_grad=True)
    o = ca(x, torch.zeros(1, 3, dtype=torch.bool), q[:1])
    o.sum().backward()
    assert o.abs().sum() == 0 and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("residual", ["input", "transition"])
def test_residual_ae(residual):
    torch.manual_seed(0)
    ae = ResidualAE(3, 8, 4, dropout=0.3, residual=residual).eval()
    xs = [torch.randn(2, 5, 8) for _ in range(3)]  # works on (B, Q, d) slots too
    out = ae(xs, xs[1])
    s = ae.transition(torch.cat(xs, -1))
    base = ae.decoder(ae.encoder(s))
    assert torch.allclose(out, base + (xs[1] if residual == "input" else s))
    with pytest.raises(ValueError, match="residual"):
        ResidualAE(3, 8, 4, residual="bad")


def test_umca_net_shapes_mia_and_absent_modalities():
    torch.manual_seed(0)
    dims = {"text": 6, "audio": 3, "vision": 4}
    net = UMCANet(dims, 2, hidden_dim=8, query_dim=4, mia=True).eval()
    x = {m: torch.randn(2, 5, d) for m, d in dims.items()}
    mask = {m: torch.ones(2, 5, dtype=torch.bool) for m in dims}
    present = torch.ones(2, 3, dtype=torch.bool)
    full = net(x, mask, present, missing=False)
    assert full.logits.shape == (2, 2) and full.z.shape == (2, 4)
    assert full.q_text.shape == (2, 8) and full.c_text.shape == (2, 7, 4)
    assert len(net.subsets) == 7 and net.subsets[net.text_slot] == ("text",)
    miss = net(x, mask, present, missing=True)  # the MIA hooks change the text path
    assert not torch.allclose(miss.c_text, full.c_text)
    # an absent (masked, weight 0) modality cannot influence the output
    present2 = torch.tensor([[1, 0, 1], [1, 0, 1]], dtype=torch.bool)
    mask2 = {**mask, "audio": torch.zeros(2, 5, dtype=torch.bool)}
    a = net(x, mask2, present2, missing=False).logits
    x2 = {**x, "audio": x["audio"] + 10.0}
    assert torch.allclose(a, net(x2, mask2, present2, missing=False).logits, atol=1e-6)
