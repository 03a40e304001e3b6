"""CLI: --help everywhere, a train -> evaluate -> predict smoke run, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import cli

from robustmsa.cli import COMMAND_MODULES, main

REPO = Path(__file__).resolve().parents[1]
SMALL = ["data.source=synthetic:small", "train.epochs=1", "train.progress=false",
         "model.d_model=8", "model.num_heads=2", "model.num_layers=1", "model.ffn_dim=8"]


@pytest.mark.parametrize("cmd", [c.replace("_cmd", "") for c in COMMAND_MODULES])
def test_every_subcommand_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert "usage: robustmsa " + cmd in capsys.readouterr().out


def test_train_evaluate_predict_smoke(tmp_path, capsys):
    t = tmp_path / "teacher"
    rc, out, _ = cli(capsys, "train", "method=teacher", *SMALL, "--out", str(t))
    assert rc == 0 and json.loads(out)["run_dir"] == str(t)
    c = tmp_path / "corrkd"
    rc, _, _ = cli(capsys, "train", "method=corrkd", f"teacher={t / 'best.pt'}", *SMALL, "--out", str(c))
    assert rc == 0
    ev = tmp_path / "eval"
    rc, out, err = cli(capsys, "evaluate", "-c", str(t / "best.pt"), "-c", str(c / "best.pt"),
                       "--protocol", "subsets", "--condition", "eta:0.5", "--mask-seeds", "0", "1",
                       "--out", str(ev))
    assert rc == 0 and "checkpoint 1/2: teacher seed 0" in err and "checkpoint 2/2: corrkd" in err
    recs = json.loads((ev / "results.json").read_text())
    keys = {"name", "method", "checkpoint", "dataset", "protocol", "condition", "seed",
            "mask_seed", "metric", "value", "missing_input"}
    assert recs and all(set(r) == keys for r in recs)
    assert {r["method"] for r in recs} == {"teacher", "corrkd"}
    assert {r["name"] for r in recs} == {"teacher", "corrkd"}  # the run directories
    assert {r["checkpoint"] for r in recs} == {str(t / "best.pt"), str(c / "best.pt")}
    assert any(r["condition"] == "avg_incomplete" for r in recs)
    assert "| corrkd |" in (ev / "report.md").read_text() and (ev / "subsets.png").exists()
    assert (ev / "subsets.pdf").exists() and (ev / "tables" / "subsets_F1.tex").exists()
    # predict writes the same masks as evaluate: its F1 equals the evaluate record
    p = tmp_path / "preds.npz"
    rc, _, _ = cli(capsys, "predict", "-c", str(c / "best.pt"), "--data", "synthetic:small",
                   "--condition", "ta", "--mask-seed", "1", "--out", str(p))
    assert rc == 0
    z = np.load(p)
    assert z["pred"].shape == (100, 2) and len(z["id"]) == 100
    assert str(z["task"]) == "polarity2" and np.array_equal(z["truth"], z["label"] >= 0)
    from sklearn.metrics import f1_score

    f1 = f1_score(z["label"] >= 0, z["score"] >= 0, average="weighted")
    want = [r["value"] for r in recs if r["method"] == "corrkd" and r["condition"] == "ta"
            and r["mask_seed"] == 1 and r["metric"] == "F1"]
    assert want and abs(f1 - want[0]) < 1e-12


def test_resume_flag(tmp_path, capsys):
    rc, _, _ = cli(capsys, "train", "method=teacher", *SMALL, "--out", str(tmp_path))
    assert rc == 0
    rc, _, _ = cli(capsys, "train", "method=teacher", *SMALL, "--out", str(tmp_path), "--resume")
    assert rc == 0


@pytest.mark.parametrize("args,needle", [
    (["train", "method=nope"], "unknown method 'nope'"),
    (["train", "train.epochs=zero"], "train.epochs"),
    (["train", "bogus.key=1"], "unknown key(s) bogus"),
    (["train", "method=corrkd", "data.source=synthetic:small"], "needs a trained teacher"),
    (["evaluate", "-c", "/nonexistent/best.pt"], "checkpoint not found"),
    (["train", "data.source=/nonexistent.pkl"], "/nonexistent.pkl"),
])
def test_bad_input_is_one_line_error(args, needle, capsys):
    rc, out, err = cli(capsys, *args)
    assert rc == 2 and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_evaluate_and_predict_bad_input(tmp_path, capsys):
    """Bad conditions, unknown protocols and data that does not fit the model: one line each."""
    from tests.conftest import make_tiny_dataset

    from robustmsa.data.schema import save_dataset

    t = tmp_path / "t"
    assert cli(capsys, "train", "method=teacher", *SMALL, "--out", str(t))[0] == 0
    ck = str(t / "best.pt")
    other = save_dataset(make_tiny_dataset(), tmp_path / "tiny.npz")  # text width 12, not 64
    cases = [
        (["evaluate", "-c", ck, "--protocol", "nope"], "unknown protocol 'nope'"),
        (["evaluate", "-c", ck, "--condition", "bogus"], "unknown condition 'bogus'"),
        (["evaluate", "-c", ck, "--condition", "frame:2"], "condition 'frame:2': rate must be"),
        (["evaluate", "-c", ck, "--condition", "ta", "--data", str(other)],
         "expects text features of width 64"),
        (["predict", "-c", ck, "--data", str(other), "--out", str(tmp_path / "p.npz")],
         "but dataset 'tiny' has width"),
        (["predict", "-c", ck, "--data", "synthetic:small", "--condition", "xyz",
          "--out", str(tmp_path / "p.npz")], "unknown condition 'xyz'"),
    ]
    for args, needle in cases:
        rc, _, err = cli(capsys, *args)
        assert rc == 2 and needle in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.npz").exists()


def test_list(capsys):
    rc, out, _ = cli(capsys, "list", "methods")
    assert rc == 0
    for m in ("teacher", "student", "logit_kd", "feature_kd", "corrkd", "mmckd", "casd", "dfsd"):
        assert m in out


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml"))
                         + sorted((REPO / "benchmarks" / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    from robustmsa.benchmark import _experiment, load_benchmark_config

    bc = load_benchmark_config(path)
    assert bc.runs and bc.seeds
    for r in bc.runs:
        cfg = _experiment(bc, r, bc.seeds[0], "teacher.pt")
        from robustmsa.config import dataclass_from_dict
        from robustmsa.engine.builder import method_class

        dataclass_from_dict(method_class(cfg.method).Config, cfg.method_config, r.name)
