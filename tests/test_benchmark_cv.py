"""`benchmark` with cross-validation folds as one more grid dimension, the report's natural-
missingness / coverage / floor sections, and the committed MFN benchmark configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REPO, make_tiny_dataset

from robustmsa.benchmark import load_benchmark_config, run_benchmark
from robustmsa.config import dataclass_from_dict
from robustmsa.data import save_dataset
from robustmsa.data.groups import groups_from_ids
from robustmsa.data.schema import MSADataset, infer_info

SMALL = {"model": {"d_model": 8, "num_heads": 2, "num_layers": 1, "ffn_dim": 16},
         "train": {"epochs": 1, "batch_size": 16, "progress": False}}


def test_folds_times_seeds(tmp_path: Path) -> None:
    ds = make_tiny_dataset(n=(24, 12, 12))
    for s, sp in ds.splits.items():
        sp.ids = np.array([f"{s}{i // 2}_{i}" for i in range(len(sp))])
        sp.groups = groups_from_ids(sp.ids)
    ds = MSADataset(ds.splits, infer_info(ds.splits, name="tinycv", source="t"))
    src = save_dataset(ds, tmp_path / "tiny.npz")
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps([{"dataset": "tinycv", "setting": "cv", "modalities": "tav",
                                   "model": "ridge", "metrics": {"F1": 0.5}, "readme": None}]))
    from robustmsa.benchmark import BenchmarkConfig

    bc = dataclass_from_dict(BenchmarkConfig, {
        "base": {**SMALL, "data": {"source": str(src), "cv_folds": 3, "cv_pool": ["valid", "test"]}},
        "runs": [{"name": "teacher", "method": "teacher"}, {"name": "logit_kd", "method": "logit_kd"}],
        "seeds": [1], "folds": [0, 2], "mask_seeds": [0], "protocols": ["subsets"],
        "out_dir": str(tmp_path / "bench"), "floors": {"file": str(floors), "dataset": "tinycv",
                                                       "setting": "cv"},
    })
    report = run_benchmark(bc)
    recs = json.loads((report.parent / "results.json").read_text())
    assert {(r["fold"], r["seed"]) for r in recs} == {(0, 1), (2, 1)}
    assert (tmp_path / "bench" / "logit_kd" / "fold2" / "seed1" / "best.pt").is_file()
    cfg = (tmp_path / "bench" / "logit_kd" / "fold2" / "seed1" / "config.yaml").read_text()
    assert "fold2/seed1/best.pt" in cfg and "cv_fold: 2" in cfg  # the fold's own teacher
    text = report.read_text()
    assert "CV folds: [0, 2]" in text and "## Natural missingness" in text
    assert "## Natural and simulated missingness per condition" in text
    assert "fold 2 test" in text and "## Floors" in text and "| tav | 50.00 |" in text
    # one unit per (seed, fold) run
    from robustmsa.benchmark_extra import _unit_means

    assert len(_unit_means(recs)[("teacher", "subsets", "complete", "F1")]) == 2


@pytest.mark.parametrize("name", ["mfn_pom", "mfn_ict_mmmo_cv", "mfn_ict_mmmo_textless"])
def test_committed_mfn_configs_parse(name: str) -> None:
    bc = load_benchmark_config(REPO / "benchmarks" / "configs" / f"{name}.yaml")
    assert bc.seeds == [0, 1, 2, 3, 4] and bc.floors["file"].endswith("mfn_linear_reference.json")
    assert (REPO / bc.floors["file"]).is_file()


def test_report_sections_for_an_untrained_modality() -> None:
    from robustmsa.benchmark_extra import coverage_section, untrained_section

    ds = make_tiny_dataset()
    ds["train"].lengths["text"][:] = 0
    ds["train"].features["text"][:] = 0
    recs = [{"method": "m", "seed": s, "mask_seed": 0, "protocol": "subsets", "condition": c,
             "metric": k, "value": v}
            for s in (0, 1) for c, v in (("a", 0.6), ("v", 0.5), ("av", 0.7), ("t", 0.1))
            for k, v in (("F1", v + 0.01 * s), ("coverage", 1.0))]
    md = "\n".join(untrained_section(recs, ds, ["m"], "F1"))
    row = next(line for line in md.splitlines() if line.startswith("| m |"))
    cells = [c.split(" ±")[0].strip() for c in row.strip("|").split("|")]
    assert cells == ["m", "60.50", "50.50", "70.50", "60.50"]  # a, v, av, their mean (no t)
    assert "## Subsets without text" in md
    cov = "\n".join(coverage_section(recs, ("text", "audio", "vision")))
    assert "| av | removed: text | — | 100.0 % |" in cov
