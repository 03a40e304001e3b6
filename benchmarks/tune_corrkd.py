"""Validation-only tuning of CorrKD's unknown hyper-parameters (spec: eta, loss weights).

Trains CorrKD variants distilled from the benchmark's seed-0 teacher and ranks them by the
**validation** selection score (mean F1 over complete + the 6 incomplete subsets); the test
split is never read. Writes benchmarks/results/tune_corrkd_<dataset>.json.

Run (after the benchmark has trained its teacher):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune_corrkd.py benchmarks/configs/corrkd_synthetic.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from robustmsa.benchmark import RunSpec, _experiment, load_benchmark_config
from robustmsa.config import ExperimentConfig, dataclass_from_dict
from robustmsa.engine.trainer import Trainer

GRID = [
    {},
    {"scd_weight": 0.1},
    {"scd_weight": 0.01},
    {"scd_weight": 0.1, "cpd_weight": 10.0},
    {"scd_weight": 0.1, "margin": 1.0},
    {"scd_weight": 0.01, "rcd_weight": 0.1},
]


def main(path: str) -> None:
    bc = load_benchmark_config(path)
    base = dataclass_from_dict(ExperimentConfig, bc.base, "base")
    data = base.data.load()
    out = Path(bc.out_dir) / "tune"
    teacher = str(Path(bc.out_dir) / "teacher/seed0/best.pt")
    rows = []
    for i, mc in enumerate(GRID):
        cfg = _experiment(bc, RunSpec(name=f"corrkd_tune{i}", method="corrkd", method_config=mc), 0, teacher)
        res = Trainer(cfg, data, out / f"cfg{i}").fit()
        rows.append({"method_config": mc, "valid_select_score": res.best_score, "best_epoch": res.best_epoch})
        print(rows[-1], flush=True)
    dest = Path("benchmarks/results") / f"tune_corrkd_{data.info.name.replace(':', '_')}.json"
    dest.write_text(json.dumps({"config": path, "seed": 0, "selection": "validation only", "rows": rows}, indent=1))
    print("wrote", dest)


if __name__ == "__main__":
    main(sys.argv[1])
