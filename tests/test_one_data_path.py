"""One data path: a CLI-trained checkpoint gives identical predictions through every entry
point, and through a file whose train split differs (the checkpoint's statistics are used,
never the evaluated file's)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tests.conftest import make_tiny_dataset, record_values, run_cli

from robustmsa.cli import main
from robustmsa.data import load_data
from robustmsa.data.prepare import prepare_for_checkpoint
from robustmsa.data.schema import MSADataset, save_dataset
from robustmsa.data.transforms import fit_norm_stats
from robustmsa.errors import CheckpointError, ConfigError, DataError
from robustmsa.evaluation.api import evaluate, evaluate_method, unique_labels
from robustmsa.evaluation.evaluator import predict_split
from robustmsa.evaluation.predictions import predict_to_file
from robustmsa.evaluation.report import collect
from robustmsa.inference import Predictor, load_method

REPO = Path(__file__).resolve().parents[1]
TINY = ["train.epochs=2", "train.batch_size=16", "train.progress=false", "model.d_model=8",
        "model.num_heads=2", "model.num_layers=1", "model.ffn_dim=8"]


def other_train_split(ds: MSADataset) -> MSADataset:
    """Byte-identical valid/test splits, a train split with other statistics."""
    tr = ds["train"]
    feats = {m: np.where(np.arange(x.shape[1])[None, :, None] < tr.lengths[m][:, None, None],
                         3.0 * x + 1.5, 0.0).astype(np.float32) for m, x in tr.features.items()}
    return MSADataset({**ds.splits, "train": replace(tr, features=feats)}, ds.info)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("one_path")
    raw = make_tiny_dataset()
    a = save_dataset(raw, d / "a.npz")
    b = save_dataset(other_train_split(raw), d / "b.npz")
    ck = d / "teacher" / "best.pt"
    assert main(["train", "method=teacher", f"data.source={a}", *TINY,
                 "--out", str(ck.parent)]) == 0
    ck_b = d / "teacher_b" / "best.pt"
    assert main(["train", "method=teacher", f"data.source={b}", *TINY,
                 "--out", str(ck_b.parent)]) == 0
    return {"dir": d, "a": str(a), "b": str(b), "ck": str(ck), "ck_b": str(ck_b)}


def test_every_entry_point_gives_the_same_predictions(world, capsys):
    d, ck = world["dir"], world["ck"]
    preds = {}
    for f in ("a", "b"):
        for cond, ms in (("complete", 0), ("ta", 1)):
            out = d / f"p_{f}_{cond}.npz"
            run_cli(capsys, "predict", "-c", ck, "--data", world[f], "--condition", cond,
                    "--mask-seed", str(ms), "--out", str(out))
            preds[f, cond] = np.load(out)
    for cond in ("complete", "ta"):  # a file whose train split differs: identical outputs
        assert np.array_equal(preds["a", cond]["pred"], preds["b", cond]["pred"])
        assert np.array_equal(preds["a", cond]["score"], preds["b", cond]["score"])
    score = preds["a", "complete"]["score"]
    # the old bug: standardising with the evaluated file's own train split changes predictions
    method, ckd = load_method(ck)
    b_raw = load_data(world["b"])
    wrong = {m: {"mean": torch.from_numpy(mu), "std": torch.from_numpy(sd)}
             for m, (mu, sd) in fit_norm_stats(b_raw["train"]).items()}
    bad = prepare_for_checkpoint(dict(ckd, normalization=wrong), b_raw, splits=["test"])
    assert not np.array_equal(predict_split(method, bad["test"], mask=None).score, score)
    # the Python API paths
    ps = predict_split(method, prepare_for_checkpoint(ckd, load_data(world["a"]))["test"],
                       mask=None)
    assert np.array_equal(ps.score, score)
    p2, _ = predict_to_file(ck, load_data(world["b"]), split="test", condition="ta",
                            mask_seed=1, out=d / "api.npz")
    assert np.array_equal(np.load(p2)["pred"], preds["a", "ta"]["pred"])
    # single samples through the Predictor: zero-padded raw rows, with and without lengths
    pred = Predictor.from_checkpoint(ck)
    test = load_data(world["b"])["test"]
    for i in range(len(test)):
        row = {m: test.features[m][i] for m in test.modalities}
        lens = {m: int(test.lengths[m][i]) for m in test.modalities}
        trimmed = {m: x[: lens[m]] for m, x in row.items()}
        for feats, ln in ((row, None), (row, lens), (trimmed, None)):
            s = pred.predict_features(feats, lengths=ln)["score"]
            assert s == pytest.approx(float(score[i]), abs=1e-5), (i, ln)
    # evaluate: CLI on both files, the API, evaluate_method, and the predictions above
    recs = {}
    for f in ("a", "b"):
        ev = d / f"eval_{f}"
        run_cli(capsys, "evaluate", "-c", ck, "--data", world[f], "--protocol", "subsets",
                "--mask-seeds", "0", "1", "--out", str(ev))
        recs[f] = record_values(json.loads((ev / "results.json").read_text()))
    assert recs["a"] == recs["b"]
    api, _ = evaluate([ck], load_data(world["a"]), protocols=["subsets"], mask_seeds=[0, 1])
    assert record_values(api) == recs["a"]
    m2, _ = load_method(ck)
    em, _ = evaluate_method(m2, load_data(world["b"]), protocols=["subsets"], mask_seeds=[0, 1])
    assert record_values(em) == recs["a"]
    from sklearn.metrics import f1_score

    for cond, ms in (("complete", 0), ("ta", 1)):
        z = preds["a", cond]
        f1 = f1_score(z["label"] >= 0, z["score"] >= 0, average="weighted")
        assert f1 == recs["a"]["teacher", None, "subsets", cond, ms, "F1"]


def test_two_checkpoints_with_different_statistics_in_one_evaluate(world, capsys):
    """Each checkpoint gets the data prepared with its own statistics; masks are shared."""
    d = world["dir"]
    both, _ = evaluate([world["ck"], world["ck_b"]], load_data(world["a"]),
                       protocols=["subsets"], mask_seeds=[0])
    alone = []
    for ck in (world["ck"], world["ck_b"]):
        alone += evaluate([ck], load_data(world["a"]), protocols=["subsets"], mask_seeds=[0])[0]
    assert record_values(both) == record_values(alone)
    assert {r["name"] for r in both} == {"teacher", "teacher_b"}
    assert (d / "teacher_b" / "best.pt").exists()


def test_benchmark_records_match_evaluate(world, tmp_path, capsys):
    cfg = {"base": {"data": {"source": world["a"]},
                    "model": {"d_model": 8, "num_heads": 2, "num_layers": 1, "ffn_dim": 8},
                    "train": {"epochs": 1, "batch_size": 16, "progress": False}},
           "runs": [{"name": "my_teacher", "method": "teacher"}], "seeds": [0],
           "mask_seeds": [0], "protocols": ["subsets"], "out_dir": str(tmp_path / "bench")}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(cfg))
    run_cli(capsys, "benchmark", "--config", str(tmp_path / "b.yaml"))
    bench = json.loads((tmp_path / "bench" / "results.json").read_text())
    ck = tmp_path / "bench" / "my_teacher" / "seed0" / "best.pt"
    assert {r["name"] for r in bench} == {"my_teacher"} and {r["method"] for r in bench} == {
        "teacher"} and {r["checkpoint"] for r in bench} == {str(ck)}
    ev = tmp_path / "ev"
    run_cli(capsys, "evaluate", "-c", str(ck), "--protocol", "subsets", "--mask-seeds", "0",
            "--out", str(ev))
    assert record_values(json.loads((ev / "results.json").read_text())) == record_values(bench)


def test_predict_output_scores_directly(world, capsys):
    d = world["dir"]
    out = d / "p_score.npz"
    run_cli(capsys, "predict", "-c", world["ck"], "--data", world["a"], "--out", str(out))
    z = np.load(out)
    assert str(z["convention"]) == "classification"
    res = json.loads(run_cli(capsys, "score", str(out), "--convention", "classification"))
    from sklearn.metrics import f1_score

    assert res["F1_weighted"] == pytest.approx(
        f1_score(z["truth"], z["pred"].argmax(1), average="weighted"), abs=1e-12)
    rc = main(["score", str(out), "--convention", "mosi"])
    assert rc == 2 and "class model" in capsys.readouterr().err


def test_run_names_never_merge_two_checkpoints(tmp_path):
    lab = {"method": "teacher", "seed": 0, "missing_input": "zeros"}
    a = dict(lab, name="teacher", checkpoint="runs/teacher/best.pt")
    b = dict(lab, name="teacher", checkpoint="runs/demo/teacher/seed0/best.pt")
    c = dict(lab, name="teacher", checkpoint="runs/demo/teacher/seed1/best.pt", seed=1)
    out = unique_labels([a, b, c], explicit=False)
    assert [o["name"] for o in out] == ["teacher@runs/teacher", "teacher@runs/demo/teacher",
                                        "teacher@runs/demo/teacher"]
    with pytest.raises(ConfigError, match="given to 2 checkpoints"):
        unique_labels([a, b], explicit=True)
    with pytest.raises(ConfigError, match="given twice"):
        unique_labels([a, dict(a)], explicit=False)
    recs = [dict(a, dataset="d", protocol="subsets", condition="t", mask_seed=0, metric="F1",
                 value=0.5),
            dict(b, dataset="d", protocol="subsets", condition="t", mask_seed=0, metric="F1",
                 value=0.7)]
    with pytest.raises(DataError, match="must not be averaged"):
        collect(recs, {"d": None})
    old = [{k: v for k, v in r.items() if k not in ("name", "checkpoint")} for r in recs[:1]]
    assert [r.name for r in collect(old, {"d": None}).rows] == ["teacher"]  # old files: method


def test_prepare_refuses_what_does_not_fit(world):
    ck = torch.load(world["ck"], weights_only=True)
    data = load_data(world["a"])
    with pytest.raises(CheckpointError, match="no statistics for audio"):
        prepare_for_checkpoint(dict(ck, normalization={"text": ck["normalization"]["text"]}),
                               data)
    wide = make_tiny_dataset(dims=(("text", 3), ("audio", 5), ("vision", 7)))
    with pytest.raises(CheckpointError, match="text features of width 12"):
        prepare_for_checkpoint(ck, wide)
    p = prepare_for_checkpoint(ck, data)
    assert prepare_for_checkpoint(ck, p) is p  # prepared once, never twice
    again = prepare_for_checkpoint(dict(ck, normalization={}), p)  # starts from the raw data
    assert np.array_equal(again["test"].features["text"], data["test"].features["text"])
    assert np.array_equal(p["test"].lengths["text"], data["test"].lengths["text"])
    pad = p["test"].features["audio"][np.arange(8)[None, :] >= data["test"].lengths["audio"][:, None]]
    assert (pad == 0).all()  # padding stays exactly zero


def test_readme_python_snippet_matches_the_cli(tmp_path, monkeypatch, capsys):
    """The Quick start's Python block, run as written, gives the numbers of the CLI."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"From Python:\n\n```python\n(.*?)```", text, re.S)
    assert block, "README: no Python block after 'From Python:'"
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block.group(1), "README.md", "exec"), scope)  # noqa: S102
    out = json.loads(run_cli(capsys, "evaluate", "-c", "runs/teacher/best.pt", "--protocol",
                             "subsets", "--out", "ev") and (tmp_path / "ev" / "results.json")
                     .read_text())
    assert record_values(scope["records"]) == record_values(out)
    test = scope["data"]["test"]
    first = [r for r in out if r["condition"] == "complete" and r["metric"] == "F1"]
    assert first
    m, ck = load_method("runs/teacher/best.pt")
    ps = predict_split(m, prepare_for_checkpoint(ck, scope["data"], splits=["test"])["test"],
                       mask=None)
    assert scope["prediction"]["score"] == pytest.approx(float(ps.score[0]), abs=1e-5)
    assert len(test) == len(ps.score)
