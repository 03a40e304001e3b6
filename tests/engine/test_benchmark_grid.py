"""The benchmark grid: dependencies, reuse, and identical results for every executor."""

from __future__ import annotations

import json
import os

import pytest
from tests.conftest import make_tiny_dataset

from robustmsa.benchmark import BenchmarkConfig, RunSpec, plan_runs, run_benchmark
from robustmsa.engine.grid import InlineExecutor, run_graph
from robustmsa.errors import ConfigError

BASE = {
    "model": {"d_model": 8, "num_heads": 2, "num_layers": 1, "ffn_dim": 16},
    "train": {"epochs": 2, "batch_size": 16, "progress": False},
}


def _config(out, seeds=(0, 1)) -> BenchmarkConfig:
    return BenchmarkConfig(
        base=BASE, seeds=list(seeds), mask_seeds=[0], protocols=["subsets"],
        runs=[RunSpec("logit_kd", "logit_kd"), RunSpec("teacher", "teacher")],
        out_dir=str(out), title="grid test")


@pytest.fixture(scope="module")
def data():
    return make_tiny_dataset()


def _records(out) -> list[dict]:
    """results.json with path-valued fields (which name the run directory) removed."""
    recs = json.loads((out / "results.json").read_text())
    return [{k: v for k, v in r.items() if not (isinstance(v, str) and str(out) in v)} for r in recs]


def test_plan_orders_teachers_first_with_dependencies(tmp_path):
    tasks = plan_runs(_config(tmp_path))
    assert [t.key for t in tasks] == ["teacher/seed0", "logit_kd/seed0", "teacher/seed1",
                                      "logit_kd/seed1"]
    assert tasks[1].deps == ("teacher/seed0",) and tasks[0].deps == ()
    assert tasks[1].config.teacher == str(tmp_path / "teacher/seed0/best.pt")


def test_run_graph_rejects_unknown_dependency(tmp_path, data):
    tasks = plan_runs(_config(tmp_path, seeds=(0,)))
    with pytest.raises(ConfigError, match="not in the grid"):
        run_graph(tasks[1:], InlineExecutor(data), progress=False)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("seq")
    run_benchmark(_config(out), data, progress=False)
    return out


def test_sequential_run_logs_and_resumes(sequential, data, capsys):
    assert (sequential / "teacher/seed1/train.log").read_text().strip()
    before = _records(sequential)
    mtime = os.path.getmtime(sequential / "logit_kd/seed0/best.pt")
    run_benchmark(_config(sequential), data)  # everything reused
    assert os.path.getmtime(sequential / "logit_kd/seed0/best.pt") == mtime
    assert "4 of 4 runs done (logit_kd/seed1 reused" in capsys.readouterr().err
    assert _records(sequential) == before


def test_workers_give_identical_results(sequential, data, tmp_path):
    run_benchmark(_config(tmp_path), data, workers=2, progress=False)
    assert _records(tmp_path) == _records(sequential)


def test_ray_gives_identical_results(sequential, data, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'robustmsa[ray]'); "
                                      "the Ray executor is not tested")
    run_benchmark(_config(tmp_path), data, workers=2, ray_address="local", progress=False)
    assert _records(tmp_path) == _records(sequential)


def test_report_only_rerenders_without_training_or_evaluation(sequential, data, tmp_path,
                                                                monkeypatch):
    import shutil

    import robustmsa.benchmark as bench

    out = tmp_path / "copy"
    shutil.copytree(sequential, out)
    report = (out / "report.md").read_text()
    (out / "report.md").unlink()
    (out / "tables" / "subsets_F1.csv").unlink()

    def refuse(*a, **k):
        raise AssertionError("--report-only must not train or evaluate")

    monkeypatch.setattr(bench, "run_trainings", refuse)
    monkeypatch.setattr(bench, "evaluate_runs", refuse)
    path = run_benchmark(_config(out), data, report_only=True)
    assert path.read_text() == report.replace(str(sequential), str(out))
    assert (out / "tables" / "subsets_F1.csv").exists()
    (out / "logit_kd/seed1/summary.json").unlink()
    with pytest.raises(ConfigError, match=r"seed1/summary.json: missing; --report-only"):
        run_benchmark(_config(out), data, report_only=True)
