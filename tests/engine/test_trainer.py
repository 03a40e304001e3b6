"""The trainer: logs, checkpoints, resume determinism, validation-only selection."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
import yaml
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.schema import MSADataset
from robustmsa.engine.checkpoint import load_checkpoint, save_checkpoint
from robustmsa.engine.trainer import Trainer
from robustmsa.errors import CheckpointError, ConfigError, RunDirError


class NoTestAccess(MSADataset):
    def __getitem__(self, split):
        if split == "test":
            raise AssertionError("the trainer must never look at the test split")
        return super().__getitem__(split)


@pytest.fixture(scope="module")
def data():
    d = make_tiny_dataset()
    return NoTestAccess(d.splits, d.info)


def test_run_directory_contents_and_logs(data, tmp_path):
    res = Trainer(tiny_config("teacher", "train.epochs=3"), data, tmp_path).fit()
    for f in ("config.yaml", "env.json", "metrics.jsonl", "best.pt", "last.pt", "summary.json"):
        assert (tmp_path / f).exists(), f
    recs = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in recs if r["type"] == "step"]
    epochs = [r for r in recs if r["type"] == "epoch"]
    assert len(epochs) == 3 and len(steps) == 3 * 3  # 48 samples / 16
    assert {"loss", "task"} <= set(steps[0])
    best = max(epochs, key=lambda r: r["select_score"])
    assert res.best_epoch == best["epoch"]
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["train"]["epochs"] == 3
    ck = load_checkpoint(tmp_path / "best.pt")
    assert ck["kind"] == "best" and ck["epoch"] == res.best_epoch and "resume" not in ck
    assert ck["method"] == "teacher" and ck["dataset_info"]["dims"]["audio"] == 5


def test_resume_reproduces_uninterrupted_run(data, tmp_path):
    full = tmp_path / "full"
    Trainer(tiny_config("student", "train.epochs=4"), data, full).fit()
    part = tmp_path / "part"
    Trainer(tiny_config("student", "train.epochs=2"), data, part).fit()
    # the same run extended to 4 epochs: train.epochs is a field --resume may change
    Trainer(tiny_config("student", "train.epochs=4"), data, part).fit(resume=True)
    a = torch.load(full / "last.pt", weights_only=True)["student"]
    b = torch.load(part / "last.pt", weights_only=True)["student"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    la = [json.loads(x) for x in (full / "metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(x) for x in (part / "metrics.jsonl").read_text().splitlines()]
    strip = lambda rs: [{k: v for k, v in r.items() if k != "train_seconds"} for r in rs]  # noqa: E731
    assert strip(la) == strip(lb)


def test_resume_refuses_other_config(data, tmp_path):
    Trainer(tiny_config("teacher", "train.epochs=1"), data, tmp_path).fit()
    with pytest.raises(RunDirError, match=r"train\.lr: 0\.001 -> 0\.01"):
        Trainer(tiny_config("teacher", "train.epochs=1", "train.lr=0.01"), data, tmp_path).fit(resume=True)


def test_global_rng_untouched(data, tmp_path):
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    Trainer(tiny_config("teacher", "train.epochs=1"), data, tmp_path).fit()
    assert torch.equal(torch.rand(3), expected)


def test_frozen_method_requires_matching_teacher(data, tmp_path):
    with pytest.raises(ConfigError, match="needs a trained teacher"):
        Trainer(tiny_config("corrkd"), data, tmp_path / "x").fit()
    Trainer(tiny_config("student", "train.epochs=1"), data, tmp_path / "s").fit()
    with pytest.raises(CheckpointError, match="not a 'teacher'"):
        Trainer(tiny_config("corrkd", teacher=str(tmp_path / "s/best.pt")), data, tmp_path / "y").fit()
    Trainer(tiny_config("teacher", "train.epochs=1"), data, tmp_path / "t").fit()
    with pytest.raises(CheckpointError, match="architecture"):
        Trainer(tiny_config("corrkd", "model.d_model=12", "model.num_heads=2",
                            teacher=str(tmp_path / "t/best.pt")), data, tmp_path / "z").fit()
    with pytest.raises(CheckpointError, match="model.num_layers: teacher 1, student 2"):
        Trainer(tiny_config("corrkd", "model.num_layers=2", teacher=str(tmp_path / "t/best.pt")),
                data, tmp_path / "z2").fit()
    # another dropout rate is regularisation, not architecture: the teacher loads, unchanged
    Trainer(tiny_config("logit_kd", "train.epochs=1", "model.dropout=0.3",
                        teacher=str(tmp_path / "t/best.pt")), data, tmp_path / "d").fit()
    from robustmsa.engine.builder import load_teacher_net
    from robustmsa.engine.checkpoint import load_checkpoint as load_ck
    from robustmsa.tasks import Task

    cfg = tiny_config("logit_kd", "model.dropout=0.3")
    net = load_teacher_net(str(tmp_path / "t/best.pt"), data.info,
                           Task.build(cfg.task.kind, data.info), cfg.model)
    stored = load_ck(tmp_path / "t/best.pt")["student"]
    assert all(torch.equal(v, stored[k]) for k, v in net.state_dict().items())


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(bad)

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pt"
    with evil.open("wb") as fh:
        pickle.dump({"format": "robustmsa-checkpoint", "x": Evil()}, fh)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(evil)
    other = tmp_path / "other.pt"
    torch.save({"format": "robustmsa-checkpoint", "format_version": 99}, other)
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_checkpoint(other)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "best.pt"
    save_checkpoint({"method": "x", "config": {}, "dataset_info": {}, "task": {}, "student": {}}, p)
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint({"method": "y"}, p)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["best.pt"]


def test_a_finished_run_is_never_replaced_without_overwrite(data, tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config("teacher", "train.epochs=1"), data, run).fit()
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
    with pytest.raises(RunDirError, match="already holds files"):
        Trainer(tiny_config("teacher", "train.epochs=2"), data, run).fit()
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"} == before
    (run / "notes.txt").write_text("mine")
    Trainer(tiny_config("teacher", "train.epochs=2"), data, run).fit(overwrite=True)
    epochs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()
              if '"epoch"' in x and '"type": "epoch"' in x]
    assert len(epochs) == 2 and (run / "notes.txt").read_text() == "mine"
    with pytest.raises(RunDirError, match="not both"):
        Trainer(tiny_config("teacher"), data, run).fit(resume=True, overwrite=True)


def test_resume_rewrites_a_best_pt_that_last_pt_got_ahead_of(data, tmp_path):
    Trainer(tiny_config("teacher", "train.epochs=1"), data, tmp_path).fit()
    stale = load_checkpoint(tmp_path / "best.pt")
    stale["epoch"] = -7  # as if the run stopped between writing last.pt and best.pt
    save_checkpoint({k: v for k, v in stale.items() if not k.startswith(
        ("format", "robustmsa_version", "torch_version"))}, tmp_path / "best.pt")
    Trainer(tiny_config("teacher", "train.epochs=1"), data, tmp_path).fit(resume=True)
    best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
    assert best["epoch"] == 0 and "resume" not in best and best["kind"] == "best"
    assert all(torch.equal(best["student"][k], last["student"][k]) for k in best["student"])


def test_resume_moves_the_interrupted_epochs_log_aside(data, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    Trainer(tiny_config("teacher", "train.epochs=2"), data, full).fit()
    Trainer(tiny_config("teacher", "train.epochs=1"), data, part).fit()
    with (part / "metrics.jsonl").open("a") as fh:  # records of an epoch that was killed
        fh.write('{"type": "step", "epoch": 1, "step": 4, "loss": 0.5}\n{"type": "st')
    Trainer(tiny_config("teacher", "train.epochs=2"), data, part).fit(resume=True)
    strip = lambda p: [{k: v for k, v in json.loads(x).items() if k != "train_seconds"}  # noqa: E731
                       for x in p.read_text().splitlines()]
    assert strip(full / "metrics.jsonl") == strip(part / "metrics.jsonl")
    assert (part / "metrics.interrupted.jsonl").read_text().endswith('{"type": "st\n')
