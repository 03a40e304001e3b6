"""Contract tests run over every registered method (timm / sklearn style).

A newly registered method goes through all of them with no new test code. Each method declares
``teacher_mode`` and the matching property is checked: frozen teachers get no gradient and do
not change; online teachers do get gradients; self/none have no separate teacher.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tests.conftest import tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.builder import build_method
from robustmsa.engine.trainer import Trainer
from robustmsa.methods import METHODS
from robustmsa.missing import Subset, draw_mask, parse_condition
from robustmsa.nn.backbone import MultimodalNet
from robustmsa.tasks import Task

ALL = METHODS.names()


def build(name, data, teacher, *extra):
    cls = METHODS.get(name)
    cfg = tiny_config(name, *extra, teacher=teacher if cls.teacher_mode == "frozen" else "")
    return build_method(cfg, data.info), cfg


def train_batch(method, data, rows=range(12), seed=0):
    sp = data["train"]
    b = collate_rows(sp, list(rows))
    cond = method.train_missing
    if cond:
        seq = {m: b.features[m].shape[1] for m in b.modalities}
        lens = {m: sp.lengths[m][list(rows)] for m in b.modalities}
        b = replace(b, train_mask=draw_mask(parse_condition(cond), list(b.ids), lens, seq,
                                            seed=seed, split="train"))
    return b


@pytest.mark.parametrize("name", ALL)
def test_losses_finite_and_named(name, tiny_data, tiny_teacher):
    torch.manual_seed(0)
    m, _ = build(name, tiny_data, tiny_teacher)
    m.train()
    out = m(train_batch(m, tiny_data))
    assert torch.isfinite(out.loss), out.losses
    assert out.losses and all(torch.isfinite(v) for v in out.losses.values())
    keys = set(out.losses)
    out2 = m(train_batch(m, tiny_data, rows=range(12, 24)))
    assert set(out2.losses) == keys, "loss keys must be stable across batches"


@pytest.mark.parametrize("name", ALL)
def test_every_deployable_parameter_gets_gradient(name, tiny_data, tiny_teacher):
    torch.manual_seed(0)
    m, _ = build(name, tiny_data, tiny_teacher)
    m.train()
    m(train_batch(m, tiny_data, rows=range(24))).loss.backward()
    missing = [n for n, p in m.deployable().named_parameters()
               if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not missing, f"deployable parameters without gradient: {missing[:8]}"


@pytest.mark.parametrize("name", ALL)
def test_teacher_mode_property(name, tiny_data, tiny_teacher):
    torch.manual_seed(0)
    m, _ = build(name, tiny_data, tiny_teacher)
    mode = type(m).teacher_mode
    assert mode in ("none", "frozen", "online", "self")
    if mode == "frozen":
        before = {k: v.clone() for k, v in m.teacher.state_dict().items()}
        opt = torch.optim.Adam([p for _, p in m.trainable_parameters()], lr=1e-2)
        m.train()
        m(train_batch(m, tiny_data)).loss.backward()
        assert all(p.grad is None for p in m.teacher.parameters())
        assert not m.teacher.training, "frozen teacher must stay in eval mode"
        opt.step()
        for k, v in m.teacher.state_dict().items():
            assert torch.equal(v, before[k]), f"teacher tensor {k} changed"
        dep = m.deployable_state_dict()
        assert not any(k.startswith("teacher") for k in dep)
    elif mode == "online":
        m.train()
        m(train_batch(m, tiny_data)).loss.backward()
        t_params = [p for n, p in m.named_parameters() if n.startswith("teacher")]
        assert t_params and any(p.grad is not None for p in t_params)


@pytest.mark.parametrize("name", ALL)
def test_deterministic_under_fixed_seed(name, tiny_data, tiny_teacher):
    outs = []
    for _ in range(2):
        with torch.random.fork_rng():
            torch.manual_seed(123)
            m, _ = build(name, tiny_data, tiny_teacher)
            m.train()
            outs.append({k: float(v.detach()) for k, v in m(train_batch(m, tiny_data)).losses.items()})
    assert outs[0] == outs[1]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("subset", ["t", "a", "v", "av"])
def test_predict_with_missing_modalities(name, subset, tiny_data, tiny_teacher):
    m, _ = build(name, tiny_data, tiny_teacher)
    m.eval()
    sp = tiny_data["test"]
    b = collate_rows(sp, list(range(len(sp))))
    mask = draw_mask(Subset(subset), list(b.ids), sp.lengths,
                     {k: v.shape[1] for k, v in b.features.items()}, seed=0, split="test")
    from robustmsa.missing import apply_missing

    pred = m.predict(apply_missing(b, mask))
    assert pred.score.shape == (len(sp),)
    assert torch.isfinite(pred.score).all()
    if pred.probs is not None:
        assert torch.allclose(pred.probs.sum(-1), torch.ones(len(sp)), atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_train_one_modality_present_and_batch_of_one(name, tiny_data, tiny_teacher):
    m, _ = build(name, tiny_data, tiny_teacher)
    m.train()
    sp = tiny_data["train"]
    b = collate_rows(sp, [3])
    mask = draw_mask(Subset("a"), list(b.ids), {k: v[[3]] for k, v in sp.lengths.items()},
                     {k: v.shape[1] for k, v in b.features.items()}, seed=0, split="train")
    b = replace(b, train_mask=mask)
    out = m(b)
    assert torch.isfinite(out.loss), out.losses
    out.loss.backward()


@pytest.mark.parametrize("name", ALL)
def test_deployable_checkpoint_roundtrip(name, tiny_data, tiny_teacher, tmp_path):
    from robustmsa.inference import load_method

    cls = METHODS.get(name)
    cfg = tiny_config(name, "train.epochs=1",
                      teacher=tiny_teacher if cls.teacher_mode == "frozen" else "")
    Trainer(cfg, tiny_data, tmp_path).fit()
    ck = torch.load(tmp_path / "best.pt", weights_only=True)
    assert not any(k.startswith("teacher.") for k in ck["student"])
    m, _ = load_method(tmp_path / "best.pt")
    b = collate_rows(tiny_data["test"], list(range(5)))
    assert torch.isfinite(m.predict(b).score).all()
    assert set(ck["student"]) == set(m.deployable().state_dict())
    if cls.teacher_mode == "frozen" and isinstance(m.deployable(), MultimodalNet):
        # a KD student shares the teacher's architecture (an imputation method such as MMIN
        # deploys its own network, without the teacher)
        n_out = Task.build("polarity2", tiny_data.info).num_outputs
        teacher_keys = set(MultimodalNet(tiny_data.info.dims, n_out, cfg.model).state_dict())
        assert set(ck["student"]) == teacher_keys


# --- loss-balance and missing-input contracts -------------------------------------------
@pytest.fixture(scope="module")
def builtin(tmp_path_factory):
    """The built-in synthetic data (preset "small", fewer clips), standardised as the trainer
    does, and a teacher trained on it."""
    from robustmsa.data.synthetic import make_synthetic_preset

    raw = make_synthetic_preset("small", n_train=64, n_valid=16, n_test=16)
    d = tmp_path_factory.mktemp("builtin_teacher")
    tr = Trainer(tiny_config("teacher", "train.epochs=1"), raw, d)
    tr.fit()
    return tr.data, str(d / "best.pt")


@pytest.mark.parametrize("name", ALL)
def test_weights_reproduce_the_loss(name, tiny_data, tiny_teacher):
    """loss == sum_k weights[k] * losses[k]: what the loss-balance diagnostics rely on."""
    torch.manual_seed(0)
    m, _ = build(name, tiny_data, tiny_teacher)
    m.train()
    out = m(train_batch(m, tiny_data))
    assert set(out.weights) <= set(out.losses), "weights must name logged terms"
    total = sum(out.weight(k) * v for k, v in out.losses.items())
    assert torch.allclose(out.loss, total, rtol=1e-5, atol=1e-6), (float(out.loss), float(total))


@pytest.mark.parametrize("name", ALL)
def test_declared_distill_terms_send_gradient(name, builtin):
    """In the default configuration on the built-in data, every declared distillation /
    consistency term with a non-zero weight moves the deployable parameters."""
    from robustmsa.engine.diagnostics import balance_batch, measure_balance

    ds, teacher = builtin
    cls = METHODS.get(name)
    cfg = tiny_config(name, teacher=teacher if cls.teacher_mode == "frozen" else "")
    m = build_method(cfg, ds.info)
    cond = cfg.train.missing or m.train_missing
    batch = balance_batch(ds["train"], parse_condition(cond) if cond else None, seed=0,
                          batch_size=32)
    bal = measure_balance(m, batch, grad_clip=1.0, seed=0)["terms"]
    assert set(cls.distill_terms) <= set(bal), f"declared terms missing from the losses: {bal}"
    for k in cls.distill_terms:
        if bal[k]["weight"] != 0:
            assert bal[k]["grad_norm"] > 0 and torch.isfinite(torch.tensor(bal[k]["grad_norm"])), \
                f"{name}.{k} sends no gradient to the deployable parameters: {bal[k]}"


@pytest.mark.parametrize("name", ALL)
def test_missing_input_convention_is_honoured_and_documented(name, tiny_data, tiny_teacher):
    """The same weights predict differently under "zeros" and "mask" when frames are dropped
    (the encoders see the dropped frames or not), and the docstring states the convention."""
    import sys

    doc = sys.modules[METHODS.get(name).__module__].__doc__ or ""
    assert "missing input" in doc.lower() or "missing_input" in doc, \
        f"{name}: the module docstring must state its missing-input convention"
    preds = {}
    sp = tiny_data["test"]
    b = collate_rows(sp, list(range(len(sp))))
    mask = draw_mask(parse_condition("frame:0.5"), list(b.ids), sp.lengths,
                     {k: v.shape[1] for k, v in b.features.items()}, seed=0, split="test")
    from robustmsa.missing import apply_missing

    for mi in ("zeros", "mask"):
        torch.manual_seed(0)
        m, _ = build(name, tiny_data, tiny_teacher, f"model.missing_input={mi}")
        m.eval()
        preds[mi] = m.predict(apply_missing(b, mask)).score
    assert not torch.allclose(preds["zeros"], preds["mask"])
