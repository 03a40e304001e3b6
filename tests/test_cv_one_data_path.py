"""Cross-validation folds and explicit frame masks through the one data path.

Fold checkpoints trained through the CLI on a dataset with gaps in the middle of its audio
(`MSASplit.frame_valid`) and naturally absent vision: ``evaluate`` / ``predict`` / the API /
`Predictor` carve the checkpoint's own fold from the raw file and standardise with its
statistics over real frames only, giving exactly what the trainer's validation saw; two folds of
one run (same name and seed) are two units of one report row, never a clash.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import make_tiny_dataset, record_values, run_cli

from robustmsa.cli import main
from robustmsa.data import load_data
from robustmsa.data.cv import carve_fold
from robustmsa.data.groups import groups_from_ids
from robustmsa.data.prepare import norm_stats_of, prepare_for_checkpoint
from robustmsa.data.schema import MSADataset, infer_info, save_dataset
from robustmsa.engine.checkpoint import load_checkpoint
from robustmsa.errors import ConfigError
from robustmsa.evaluation.api import evaluate, unique_labels
from robustmsa.evaluation.evaluator import predict_split
from robustmsa.evaluation.report import collect
from robustmsa.inference import Predictor, load_method

TINY = ["train.epochs=2", "train.batch_size=8", "train.progress=false", "model.d_model=8",
        "model.num_heads=2", "model.num_layers=1", "model.ffn_dim=8",
        "train.select_conditions=[complete,ta,v]"]  # validation under natural + simulated gaps
CV = ["data.cv_folds=3", "data.cv_pool=[train,valid,test]"]


def gappy_grouped() -> MSADataset:
    """Two clips per video (groups), audio with missing frames anywhere (explicit masks, the
    features there all zero), vision naturally absent for every 5th clip."""
    ds = make_tiny_dataset(n=(24, 12, 12))
    rng = np.random.default_rng(7)
    for s, sp in ds.splits.items():
        sp.ids = np.array([f"{s}{i // 2}_{i}" for i in range(len(sp))])
        sp.groups = groups_from_ids(sp.ids)
        x = sp.features["audio"]
        v = rng.random(x.shape[:2]) < 0.6
        v[:, 1] = True  # at least one real frame
        v[:, 0] = False  # gaps at the start too: never a prefix
        x[~v] = 0.0
        x[v] += 2.0  # a mean far from 0: standardising with the gaps counted would show
        sp.lengths["audio"] = np.where(v.any(1), v.shape[1] - np.argmax(v[:, ::-1], axis=1), 0)
        sp.frame_valid = {"audio": v}
        sp.features["vision"][::5] = 0.0
        sp.lengths["vision"][::5] = 0
    return MSADataset(ds.splits, infer_info(ds.splits, name="gappy", source="t"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("cv_path")
    src = save_dataset(gappy_grouped(), d / "gappy.npz")
    cks = {}
    for f in (0, 1):
        run = d / "teacher" / f"fold{f}" / "seed0"
        assert main(["train", "method=teacher", f"data.source={src}", *CV, f"data.cv_fold={f}",
                     *TINY, "--out", str(run)]) == 0
        cks[f] = str(run / "best.pt")
    return {"dir": d, "src": str(src), "ck": cks}


def test_fold_checkpoint_evaluate_and_predict(world, capsys) -> None:
    d, ck = world["dir"], world["ck"][0]
    raw = load_data(world["src"])
    fold0 = carve_fold(raw, folds=3, fold=0, pool=("train", "valid", "test"))
    ev = d / "eval0"
    run_cli(capsys, "evaluate", "-c", ck, "--protocol", "subsets", "--mask-seeds", "0",
            "--out", str(ev))  # data from the checkpoint's config: the raw file, re-carved
    cli = json.loads((ev / "results.json").read_text())
    assert {r["fold"] for r in cli} == {0} and {r["name"] for r in cli} == {"teacher"}
    for data in (raw, fold0, carve_fold(raw, folds=3, fold=2, pool=("train", "valid", "test"))):
        api, _ = evaluate([ck], data, protocols=["subsets"], mask_seeds=[0])
        assert record_values(api) == record_values(cli)
    # predict: the fold's test samples, the predictions evaluate computes
    out = d / "p.npz"
    run_cli(capsys, "predict", "-c", ck, "--data", world["src"], "--out", str(out))
    p = np.load(out)
    assert p["id"].tolist() == fold0["test"].ids.tolist()
    method, ckd = load_method(ck)
    prepared = prepare_for_checkpoint(ckd, raw)
    ps = predict_split(method, prepared["test"], mask=None)
    assert np.array_equal(p["score"], ps.score)
    # the Predictor on raw dataset rows with their explicit frame masks: the same scores
    pred = Predictor.from_checkpoint(ck)
    test = fold0["test"]
    for i in range(len(test)):
        row = {m: test.features[m][i] for m in test.modalities}
        valid = {"audio": test.valid_mask("audio")[i]}
        got = pred.predict_features(row, valid=valid)["score"]
        assert got == pytest.approx(float(ps.score[i]), abs=1e-5), i
    with pytest.raises(Exception, match="not both"):
        pred.predict_features(row, valid=valid, lengths={"audio": 3})


def test_frame_masks_prepared_as_in_training(world) -> None:
    """Statistics over real frames only; gaps stay zero; the trainer's validation records of
    the best epoch equal ``evaluate`` on the valid split through the one data path."""
    ck = world["ck"][1]
    raw = load_data(world["src"])
    ckd = load_checkpoint(ck)
    fold = carve_fold(raw, folds=3, fold=1, pool=("train", "valid", "test"))
    tr = fold["train"]
    mean, std = norm_stats_of(ckd)["audio"]
    real = tr.features["audio"][tr.frame_valid["audio"]]  # (n_real, D)
    np.testing.assert_allclose(mean, real.mean(0), rtol=1e-5, atol=1e-6)
    prepared = prepare_for_checkpoint(ckd, raw)
    for s in ("train", "valid", "test"):
        sp, src = prepared[s], fold[s]
        v = src.frame_valid["audio"]
        x = sp.features["audio"]
        assert not x[~v].any()  # missing frames stay exactly zero
        np.testing.assert_allclose(x[v], (src.features["audio"][v] - mean) / std, rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_array_equal(sp.frame_valid["audio"], v)
    log = [json.loads(line) for line in (Path(ck).parent / "metrics.jsonl").read_text()
           .splitlines()]
    epoch = next(r for r in log if r["type"] == "epoch" and r["epoch"] == ckd["epoch"])
    conds = sorted({k.split("/")[0] for k in epoch["valid"]})
    assert "complete" in conds and len(conds) > 1
    recs, _ = evaluate([ck], raw, protocols=[], conditions=conds, mask_seeds=[0], split="valid")
    got = {f"{r['condition']}/{r['metric']}": r["value"] for r in recs}
    assert set(got) >= set(epoch["valid"])
    for k, v in epoch["valid"].items():
        assert got[k] == pytest.approx(v, abs=1e-6, nan_ok=True), k


def test_two_folds_of_one_run_do_not_clash(world, capsys) -> None:
    d, cks = world["dir"], world["ck"]
    ev = d / "eval01"
    run_cli(capsys, "evaluate", "-c", cks[0], "-c", cks[1], "--protocol", "subsets",
            "--mask-seeds", "0", "--out", str(ev))
    recs = json.loads((ev / "results.json").read_text())
    assert {r["name"] for r in recs} == {"teacher"}  # no "@..." qualifier: not a clash
    assert {(r["fold"], r["seed"]) for r in recs} == {(0, 0), (1, 0)}
    assert {r["checkpoint"] for r in recs} == {cks[0], cks[1]}
    col = collect(recs, {"gappy": ("text", "audio", "vision")})
    assert col.has_folds and len(col.rows) == 1
    report = (ev / "report.md").read_text()
    assert "fold 0 test" in report and "fold 1 test" in report  # natural missingness per fold
    # explicit names: the same name for two folds of one run is allowed, for one fold not
    run_cli(capsys, "evaluate", "-c", cks[0], "-c", cks[1], "--name", "t", "--name", "t",
            "--protocol", "subsets", "--mask-seeds", "0", "--out", str(d / "eval_named"))
    labs = [{"name": "t", "seed": 0, "fold": 0, "checkpoint": "a/best.pt"},
            {"name": "t", "seed": 0, "fold": 0, "checkpoint": "b/best.pt"}]
    with pytest.raises(ConfigError, match="--name 't'"):
        unique_labels(labs, explicit=True)
    assert unique_labels([dict(labs[0]), dict(labs[1], fold=1)], explicit=True)[1]["name"] == "t"


def test_group_batches_on_a_cv_fold_with_frame_masks(world, tmp_path, monkeypatch) -> None:
    """A ``group_batches`` method (GCNet) on a CV fold of data with explicit frame masks and a
    naturally absent modality: every training batch (the loss-balance batch too) is whole
    videos of the carved fold's train split carrying those videos' own frame masks, the training masks never restore a missing
    frame or modality, and the trainer's validation equals ``evaluate`` (one data path)."""
    from robustmsa.config import load_config
    from robustmsa.engine.trainer import train
    from robustmsa.methods.gcnet import GCNet
    from robustmsa.missing import apply_missing

    seen = []
    forward = GCNet.forward

    def spy(self, batch):
        seen.append((batch, apply_missing(batch, batch.train_mask)))
        return forward(self, batch)

    monkeypatch.setattr(GCNet, "forward", spy)
    cfg = load_config(None, ["method=gcnet", f"data.source={world['src']}", *CV, "data.cv_fold=0",
                             *[o for o in TINY if not o.startswith("train.epochs")],
                             "train.epochs=1", "method_config.hidden=4"])
    train(cfg, tmp_path / "gcnet")
    tr = carve_fold(load_data(world["src"]), folds=3, fold=0, pool=("train", "valid", "test"))
    tr = tr["train"]
    row = {str(i): k for k, i in enumerate(tr.ids)}
    for batch, masked in seen:
        rows = [row[i] for i in batch.ids]  # only the fold's training samples
        whole = [k for k in range(len(tr)) if str(tr.groups[k]) in set(batch.groups)]
        assert sorted(rows) == whole  # every video of the batch with all its clips
        assert list(batch.groups) == [str(tr.groups[r]) for r in rows]
        np.testing.assert_array_equal(batch.frame_mask["audio"].numpy(),
                                      tr.frame_valid["audio"][rows])
        for m in batch.modalities:
            assert not (masked.frame_mask[m] & ~batch.frame_mask[m]).any()  # nothing restored
        assert not (masked.present & ~batch.present).any()
        assert (batch.present[:, 2].numpy() == (tr.lengths["vision"][rows] > 0)).all()
    assert set(row) == {i for batch, _ in seen for i in batch.ids}  # the epoch covers all
    ck = tmp_path / "gcnet" / "best.pt"
    log = [json.loads(line) for line in (ck.parent / "metrics.jsonl").read_text().splitlines()]
    epoch = next(r for r in log if r["type"] == "epoch")
    conds = sorted({k.split("/")[0] for k in epoch["valid"]})
    recs, _ = evaluate([str(ck)], load_data(world["src"]), protocols=[], conditions=conds,
                       mask_seeds=[0], split="valid")
    got = {f"{r['condition']}/{r['metric']}": r["value"] for r in recs}
    for k, v in epoch["valid"].items():
        assert got[k] == pytest.approx(v, abs=1e-6, nan_ok=True), k
