"""`robustmsa data info | make-synthetic | convert` through `robustmsa.cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from msa_pickle_writers import mmsa_object, write_pickle
from tests.conftest import cli

from robustmsa.cli import main
from robustmsa.data import load_data


def test_info_synthetic_text_and_json(capsys) -> None:
    rc, out, _ = cli(capsys, "data", "info", "synthetic:small")
    assert rc == 0
    assert "dataset synthetic:small" in out and "[train] n=300" in out
    assert "text    shape (300, 20, 64)" in out and "length min/mean/max" in out
    assert "zeros" in out and ">=0" in out
    rc, out, _ = cli(capsys, "data", "info", "synthetic:small", "--json", "--seed", "1")
    s = json.loads(out)
    assert s["info"]["dims"] == {"text": 64, "audio": 5, "vision": 20}
    tr = s["splits"]["train"]
    assert tr["n"] == 300 and tr["modalities"]["audio"]["shape"] == [300, 20, 5]
    assert set(tr["labels"]) == {"mean", "std", "min", "max", "zeros", "pct_nonneg"}
    assert tr["modalities"]["text"]["lengths"]["max"] <= 20


def test_info_mosi_bclstm_reports_videos(capsys, bclstm_dir: Path) -> None:
    rc, out, _ = cli(capsys, "data", "info", str(bclstm_dir), "--json")
    s = json.loads(out)
    assert rc == 0 and s["info"]["name"] == "mosi_bclstm"
    assert {k: v["videos"] for k, v in s["splits"].items()} == {"train": 53, "valid": 9,
                                                                 "test": 31}
    rc, out, _ = cli(capsys, "data", "info", "mosi_bclstm")
    assert "[test] n=752  videos=31" in out and "(752, 1, 100)" in out
    rc, out, _ = cli(capsys, "data", "info", "mosi_bclstm:score")
    assert "[test] n=751  videos=31" in out and "(751, 1, 100)" in out


def test_make_synthetic_then_convert_round_trip(capsys, tmp_path: Path) -> None:
    out_path = tmp_path / "syn" / "small"
    rc, out, _ = cli(capsys, "data", "make-synthetic", "--preset", "small", "--seed", "2",
                      "--out", str(out_path))
    assert rc == 0 and "small.npz" in out
    saved = load_data(out_path.with_suffix(".npz"))
    fresh = load_data("synthetic:small", seed=2)
    np.testing.assert_array_equal(saved["valid"].features["vision"],
                                  fresh["valid"].features["vision"])
    pkl = write_pickle(mmsa_object("unaligned"), tmp_path / "unaligned_50.pkl")
    rc, out, _ = cli(capsys, "data", "convert", str(pkl), "--out", str(tmp_path / "conv.npz"))
    assert rc == 0 and (tmp_path / "conv.json").is_file()
    rc, out, _ = cli(capsys, "data", "info", str(tmp_path / "conv.npz"))
    assert "[valid] n=4  videos=2" in out  # MMSA ids "vid$_$clip" name their video


def test_errors_are_one_line(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "picture.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    rc, out, err = cli(capsys, "data", "info", str(bad))
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "picture.png" in err and "Traceback" not in err
    rc, _, err = cli(capsys, "data", "convert", "nothing_here", "--out", str(tmp_path / "x"))
    assert rc == 2 and "nothing_here" in err


@pytest.mark.parametrize("sub", [[], ["info"], ["make-synthetic"], ["convert"]])
def test_help(capsys, sub: list[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["data", *sub, "--help"])
    assert e.value.code == 0
    assert "usage: robustmsa data" in capsys.readouterr().out
