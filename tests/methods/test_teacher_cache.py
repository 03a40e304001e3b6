"""Frozen-teacher outputs cached once per run: same values, used only for matching rows, exact resume."""

from __future__ import annotations

import torch
from tests.conftest import tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.builder import build_method


def test_cached_teacher_outputs_equal_recomputed_and_foreign_rows_miss(tiny_data, tiny_teacher,
                                                                       monkeypatch):
    m = build_method(tiny_config("corrkd", teacher=tiny_teacher), tiny_data.info)
    assert m.cache_teacher(tiny_data["train"])
    batch = collate_rows(tiny_data["train"], [5, 0, 7, 3])
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
    m.pair(collate_rows(tiny_data["valid"], [5, 0, 7, 3]))  # same row numbers, other samples
    assert calls == [1]


def test_frozen_teacher_run_resumes_exactly(resumed_logit_kd):
    """logit_kd (teacher outputs from the cache) resumed after epoch 1 ends with the weights of
    the uninterrupted 3-epoch run."""
    full, part = resumed_logit_kd
    a = torch.load(full / "last.pt", weights_only=True)["student"]
    b = torch.load(part / "last.pt", weights_only=True)["student"]
    assert all(torch.equal(a[k], b[k]) for k in a)
