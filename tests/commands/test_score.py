"""`robustmsa score FILE.npz --convention ...`: output keys, values, null for NaN, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import cli

from robustmsa.cli import main
from robustmsa.metrics import MMSA_CLASSIFICATION_KEYS, MOSI_KEYS, SIMS_KEYS, score


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    return cli(capsys, "score", *argv)


def _npz(tmp_path: Path, name: str = "preds.npz", **arrays) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.fixture
def mosi_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    truth = rng.integers(-15, 16, 80) / 5.0
    pred = rng.normal(0, 1.5, 80).astype(np.float32)
    return _npz(tmp_path, pred=pred, truth=truth)


@pytest.mark.parametrize(("conv", "keys"), [("mosi", MOSI_KEYS), ("mosei", MOSI_KEYS), ("sims", SIMS_KEYS)])
def test_regression_conventions_print_one_json_object(capsys, mosi_file, conv, keys) -> None:
    rc, out, err = _run(capsys, str(mosi_file), "--convention", conv)
    assert rc == 0 and err == ""
    assert out.count("\n") == 1
    obj = json.loads(out)
    assert list(obj) == ["convention", *keys]
    assert obj["convention"] == conv
    with np.load(mosi_file) as z:
        want = score(z["pred"], z["truth"], conv)
    assert {k: obj[k] for k in keys} == dict(want)


def test_custom_keys_decimals_and_null(capsys, tmp_path) -> None:
    path = _npz(tmp_path, y_hat=np.full(4, 0.5), y=np.array([1.0, -1.0, 0.0, 2.0]))
    rc, out, _ = _run(
        capsys, str(path), "--convention", "mosi", "--pred-key", "y_hat", "--truth-key", "y",
        "--decimals", "4",
    )
    assert rc == 0
    assert "NaN" not in out
    obj = json.loads(out)
    assert obj["Corr"] is None  # constant prediction: undefined correlation
    assert obj["MAE"] == round((0.5 + 1.5 + 0.5 + 1.5) / 4, 4)


def test_classification_conventions(capsys, tmp_path) -> None:
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(30, 3)), rng.integers(0, 3, 30)
    path = _npz(tmp_path, pred=logits, truth=labels, w=np.ones(30))
    rc, out, _ = _run(
        capsys, str(path), "--convention", "classification", "--class-names", "neg,neu,pos",
        "--weight-key", "w",
    )
    assert rc == 0
    assert list(json.loads(out)) == [
        "convention", "Acc", "F1_weighted", "F1_macro", "F1_neg", "F1_neu", "F1_pos"]
    rc, out, _ = _run(capsys, str(path), "--convention", "mmsa_classification")
    assert rc == 0 and list(json.loads(out)) == ["convention", *MMSA_CLASSIFICATION_KEYS]
    path = _npz(tmp_path, "iemo.npz", pred=rng.normal(size=(20, 4, 2)), truth=rng.integers(0, 2, (20, 4)))
    rc, out, _ = _run(capsys, str(path), "--convention", "iemocap")
    assert rc == 0 and "F1_Angry" in json.loads(out)


def test_help(capsys) -> None:
    with pytest.raises(SystemExit) as ei:
        main(["score", "--help"])
    assert ei.value.code == 0
    assert "--convention" in capsys.readouterr().out


def _assert_error(capsys, argv: list[str], *needles: str) -> None:
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_missing_file(capsys, tmp_path) -> None:
    p = str(tmp_path / "nope.npz")
    _assert_error(capsys, [p, "--convention", "mosi"], p, "no such file")


def test_not_an_npz(capsys, tmp_path) -> None:
    txt = tmp_path / "bad.npz"
    txt.write_text("pred,truth\n1,2\n")
    _assert_error(capsys, [str(txt), "--convention", "mosi"], str(txt), "not a readable .npz")
    npy = tmp_path / "single.npy"
    np.save(npy, np.zeros(3))
    _assert_error(capsys, [str(npy), "--convention", "mosi"], str(npy), "not an .npz archive")


def test_missing_key(capsys, tmp_path) -> None:
    path = _npz(tmp_path, pred=np.zeros(3), labels=np.zeros(3))
    _assert_error(capsys, [str(path), "--convention", "mosi"], str(path), "'truth' not found",
                  "labels")


def test_object_array_refused(capsys, tmp_path) -> None:
    path = _npz(tmp_path, pred=np.array([1.0, "x"], dtype=object), truth=np.zeros(2))
    _assert_error(capsys, [str(path), "--convention", "mosi"], str(path), "'pred'")


@pytest.mark.parametrize(
    ("pred", "truth", "needles"),
    [
        (np.array([0.1, np.nan, 0.2]), np.zeros(3), ("key 'p'", "non-finite", "index 1")),
        (np.zeros(3), np.array([np.inf, 0.0, 0.0]), ("key 't'", "non-finite")),
        (np.zeros((3, 2)), np.zeros(3), ("key 'p'", "shape (3, 2)")),
        (np.zeros(3), np.zeros(4), ("'p' and 't'", "different lengths: 3 vs 4")),
        (np.zeros(0), np.zeros(0), ("key 'p'", "empty")),
    ],
)
def test_bad_arrays(capsys, tmp_path, pred, truth, needles) -> None:
    path = _npz(tmp_path, p=pred, t=truth)
    _assert_error(
        capsys, [str(path), "--convention", "mosi", "--pred-key", "p", "--truth-key", "t"],
        str(path), *needles,
    )


def test_option_not_used_by_convention(capsys, mosi_file) -> None:
    _assert_error(capsys, [str(mosi_file), "--convention", "mosi", "--class-names", "a,b"],
                  "--class-names")
