"""The trainer's thread policy: train.threads inside the run, restored afterwards, recorded."""

from __future__ import annotations

import json

import torch
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.engine.trainer import Trainer


def test_threads_set_for_the_run_restored_and_recorded(tmp_path):
    outer = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []
    data = make_tiny_dataset()
    cfg = tiny_config("teacher", "train.epochs=1", "train.threads=1")
    trainer = Trainer(cfg, data, tmp_path)
    real = trainer._fit
    trainer._fit = lambda resume: seen.append(torch.get_num_threads()) or real(resume)
    try:
        trainer.fit()
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(outer)
    assert json.loads((tmp_path / "env.json").read_text())["threads"] == 1
