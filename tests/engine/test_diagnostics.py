"""Loss-balance diagnostics: equal to hand-computed autograd, logged, harmless to training."""

from __future__ import annotations

import json
import math

import pytest
import torch
from tests.conftest import tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.builder import build_method
from robustmsa.engine.diagnostics import (
    balance_batch,
    balance_markdown,
    balance_rows,
    balance_section,
    benchmark_balance_rows,
    measure_balance,
)
from robustmsa.engine.trainer import Trainer
from robustmsa.missing import parse_condition


def test_measure_equals_hand_computed_autograd(tiny_data, tiny_teacher):
    """On a tiny model: every number equals a direct torch.autograd.grad computation."""
    m = build_method(tiny_config("logit_kd", "method_config.kd_weight=0.5", teacher=tiny_teacher),
                     tiny_data.info)
    batch = balance_batch(tiny_data["train"], parse_condition("mrm"), seed=3, batch_size=10)
    got = measure_balance(m, batch, grad_clip=0.3, seed=11)
    # by hand, same RNG seed (dropout) and train mode
    with torch.random.fork_rng():
        torch.manual_seed(11)
        m.train()
        out = m(batch)
        dep = [p for p in m.deployable().parameters() if p.requires_grad]
        flat = lambda gs: torch.cat([g.reshape(-1).double() for g in gs])  # noqa: E731
        g_task = flat(torch.autograd.grad(out.losses["task"], dep, retain_graph=True))
        g_kd = flat(torch.autograd.grad(0.5 * out.losses["kd"], dep, retain_graph=True))
        g = flat(torch.autograd.grad(out.loss, dep))
    assert got["terms"]["kd"]["weight"] == 0.5
    assert got["terms"]["kd"]["value"] == pytest.approx(0.5 * float(out.losses["kd"].detach()), rel=1e-6)
    for k, gk in (("task", g_task), ("kd", g_kd)):
        assert got["terms"][k]["grad_norm"] == pytest.approx(float(gk.norm()), rel=1e-6)
        assert got["terms"][k]["share"] == pytest.approx(float(gk @ g / (g @ g)), rel=1e-6)
        assert got["terms"][k]["cos"] == pytest.approx(float(gk @ g / gk.norm() / g.norm()), rel=1e-6)
    assert got["terms"]["task"]["share"] + got["terms"]["kd"]["share"] == pytest.approx(1.0)
    # frozen teacher: no other trainable parameter, so the clipped norm is the deployable one
    assert got["total"]["grad_norm"] == pytest.approx(float(g.norm()), rel=1e-6)
    assert got["total"]["clip_factor"] == pytest.approx(min(1.0, 0.3 / float(g.norm())), rel=1e-5)
    assert got["total"]["residual"] < 1e-6


def test_conflicting_term_has_negative_share(tiny_data):
    """A term whose gradient opposes the total update gets a negative share."""
    m = build_method(tiny_config("teacher"), tiny_data.info)
    b = collate_rows(tiny_data["train"], list(range(8)))

    class Opposed(torch.nn.Module):  # task plus a term pulling the other way at 0.3 strength
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def trainable_parameters(self):
            return self.inner.trainable_parameters()

        def deployable(self):
            return self.inner.deployable()

        def forward(self, batch):
            out = self.inner(batch)
            t = out.losses["task"]
            return type(out)(loss=t - 0.3 * t, losses={"task": t, "anti": t},
                             weights={"task": 1.0, "anti": -0.3})

    got = measure_balance(Opposed(m), b)
    assert got["terms"]["anti"]["share"] == pytest.approx(-0.3 / 0.7, rel=1e-5)
    assert got["terms"]["task"]["share"] == pytest.approx(1 / 0.7, rel=1e-5)


@pytest.mark.parametrize("name,extra", [
    ("corrkd", ()),  # automatic margin (a buffer set on the first batch) + statistics networks
    ("casd", ("method_config.warmup_steps=5",)),  # warm-up step counter buffer
])
def test_diagnostics_leave_training_bit_identical(name, extra, tiny_data, tiny_teacher, tmp_path):
    runs = {}
    for on in (True, False):
        cfg = tiny_config(name, *extra, f"train.loss_balance={str(on).lower()}",
                          teacher=tiny_teacher if name == "corrkd" else "")
        Trainer(cfg, tiny_data, tmp_path / str(on)).fit()
        runs[on] = torch.load(tmp_path / str(on) / "last.pt", weights_only=True)
    a, b = runs[True]["resume"]["method"], runs[False]["resume"]["method"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert torch.equal(runs[True]["resume"]["torch_rng"], runs[False]["resume"]["torch_rng"])


def test_logs_and_summary(tiny_data, tiny_teacher, tmp_path):
    Trainer(tiny_config("corrkd", "train.epochs=3", teacher=tiny_teacher), tiny_data,
            tmp_path).fit()
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    start = [r for r in recs if r["type"] == "balance"]
    epochs = [r for r in recs if r["type"] == "epoch"]
    assert len(start) == 1 and start[0]["when"] == "start"
    assert all("balance" in r and "clip_factor" in r["balance_total"] for r in epochs)
    s = json.loads((tmp_path / "summary.json").read_text())
    lb = s["loss_balance"]
    assert set(lb["start"]) == {"task", "scd", "cpd", "rcd"}
    for term in lb["start"].values():
        assert {"value", "grad_norm", "share", "weight"} <= set(term)
    assert math.isclose(sum(t["share"] for t in lb["start"].values()), 1.0, rel_tol=1e-6)
    assert s["loss_balance_info"]["best_epoch"] == s["best_epoch"]
    assert set(s["loss_balance_total"]) == {"start", "best"}
    assert lb["best"] == epochs[s["best_epoch"]]["balance"]
    assert lb["start"] == start[0]["balance"]
    used = [start[0]["balance"]] + [r["balance"] for r in epochs[: s["best_epoch"] + 1]]
    for k in lb["start"]:
        assert lb["mean_to_best"][k]["share"] == pytest.approx(
            sum(u[k]["share"] for u in used) / len(used))


def test_resume_keeps_the_start_measurement(resumed_logit_kd):
    full, part = resumed_logit_kd
    a = json.loads((full / "summary.json").read_text())["loss_balance"]
    b = json.loads((part / "summary.json").read_text())["loss_balance"]
    assert a == b


def test_table_and_markdown(tiny_data, tiny_teacher, tmp_path):
    for seed in (0, 1):
        Trainer(tiny_config("logit_kd", f"seed={seed}", "train.epochs=1", teacher=tiny_teacher),
                tiny_data, tmp_path / "kd" / f"seed{seed}").fit()
    Trainer(tiny_config("teacher", "train.epochs=1", "train.loss_balance=false"), tiny_data,
            tmp_path / "off" / "seed0").fit()
    rows = benchmark_balance_rows(tmp_path, ["kd", "off", "absent"], [0, 1])
    assert {r["name"] for r in rows} == {"kd"}  # no balance / no run: left out
    kd = {r["term"]: r for r in rows}
    assert kd["kd"]["distill"] and not kd["task"]["distill"] and kd["kd"]["n_seeds"] == 2
    assert kd["kd"]["share_start"] + kd["task"]["share_start"] == pytest.approx(1.0)
    assert kd["(update)"]["clip_start"] <= 1.0
    md = balance_markdown(rows)
    assert md.count("\n") == 1 + len(rows) and "**kd**" in md
    flag = "acting" if kd["kd"]["share_mean"] >= 0.05 else "**inert**"
    assert flag in md.splitlines()[[r["term"] for r in rows].index("kd") + 2]
    assert "## Loss balance" in balance_section(rows)
    assert balance_rows([]) == []


def test_benchmark_report_has_the_loss_balance(tiny_data, tmp_path):
    from robustmsa.benchmark import BenchmarkConfig, RunSpec, run_benchmark

    base = {"model": {"d_model": 8, "num_heads": 2, "num_layers": 1, "ffn_dim": 16},
            "train": {"epochs": 1, "batch_size": 16, "progress": False}}
    bc = BenchmarkConfig(base=base, runs=[RunSpec("teacher", "teacher"), RunSpec("kd", "logit_kd")],
                         seeds=[0], mask_seeds=[0], protocols=["subsets"], out_dir=str(tmp_path))
    report = run_benchmark(bc, data=tiny_data).read_text()
    assert "## Loss balance" in report and "`loss_balance.md`" in report
    md = (tmp_path / "loss_balance.md").read_text()
    assert "| kd | **kd** |" in md and "acting" in md
    rows = json.loads((tmp_path / "loss_balance.json").read_text())["rows"]
    assert {r["name"] for r in rows} == {"teacher", "kd"}


def test_balance_batch_whole_groups_and_natural_missingness():
    """The diagnostic batch of a ``group_batches`` method is whole videos (as the trainer's
    batches), and its training mask is drawn on the split's frame masks and natural absence."""
    import numpy as np
    from tests.missing.test_natural_missing import gappy_split

    sp = gappy_split(n=40)
    sp.groups = np.array([f"v{i // 3}" for i in range(len(sp))])  # videos of 3 clips
    b = balance_batch(sp, parse_condition("random_subset"), seed=1, batch_size=8,
                      groups=sp.groups)
    rows = b.index.numpy()
    vids = set(sp.groups[rows].tolist())
    assert sorted(rows.tolist()) == [i for i in range(len(sp)) if sp.groups[i] in vids]
    masked_present = b.present & b.train_mask.present
    assert not (b.train_mask.present & ~b.present).any()  # nothing naturally absent asked for
    assert masked_present.any(1).all()
    ref = balance_batch(sp, parse_condition("frame:0.5"), seed=1, batch_size=8)
    v = torch.from_numpy(sp.frame_valid["audio"][ref.index.numpy()])
    kept = ref.train_mask.keep["audio"] & v
    assert (kept.sum(1).float() / v.sum(1)).mean() < 0.8  # real frames dropped in valid order
