"""Frozen-teacher outputs cached once per run: same values, used only for matching rows, exact resume."""

from __future__ import annotations

import torch
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.builder import build_method
from robustmsa.engine.checkpoint import save_checkpoint
from robustmsa.engine.trainer import Trainer


def _teacher(tmp_path, data):
    Trainer(tiny_config("teacher", "train.epochs=1"), data, tmp_path / "t").fit()
    return str(tmp_path / "t" / "best.pt")


def test_cached_teacher_outputs_equal_recomputed_and_foreign_rows_miss(tmp_path, monkeypatch):
    data = make_tiny_dataset()
    m = build_method(tiny_config("corrkd", teacher=_teacher(tmp_path, data)), data.info)
    assert m.cache_teacher(data["train"])
    batch = collate_rows(data["train"], [5, 0, 7, 3])
    with torch.no_grad():
        want = m.teacher(batch)
    got = m._teacher_cache.get(batch)
    torch.testing.assert_close(got.joint, want.joint, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got.logits, want.logits, atol=1e-6, rtol=1e-5)
    calls = []
    real = m.teacher.forward
    monkeypatch.setattr(m.teacher, "forward", lambda b: calls.append(1) or real(b))
    m.pair(batch)
    assert calls == []  # read from the cache
    m.pair(collate_rows(data["valid"], [5, 0, 7, 3]))  # same row numbers, other samples
    assert calls == [1]


def test_frozen_teacher_run_resumes_exactly(tmp_path):
    data = make_tiny_dataset()
    teacher = _teacher(tmp_path, data)
    full, part = tmp_path / "full", tmp_path / "part"
    Trainer(tiny_config("logit_kd", "train.epochs=3", teacher=teacher), data, full).fit()
    Trainer(tiny_config("logit_kd", "train.epochs=1", teacher=teacher), data, part).fit()
    ck = torch.load(part / "last.pt", weights_only=True)
    ck["config"]["train"]["epochs"] = 3
    save_checkpoint({k: v for k, v in ck.items() if not k.startswith(("format", "robustmsa_v", "torch_v"))},
                    part / "last.pt")
    Trainer(tiny_config("logit_kd", "train.epochs=3", teacher=teacher), data, part).fit(resume=True)
    a = torch.load(full / "last.pt", weights_only=True)["student"]
    b = torch.load(part / "last.pt", weights_only=True)["student"]
    assert all(torch.equal(a[k], b[k]) for k in a)
