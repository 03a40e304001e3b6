"""Validation-only tuning of a method's unknown hyper-parameters (the specs mark them unknown).

Trains the variants of ``GRIDS[method]`` with the benchmark config's base settings (frozen-
teacher methods distil from the benchmark's teacher of the same seed) and ranks them by the
**validation** selection score (the trainer's: mean F1 over complete + the 6 incomplete
subsets); the test split is never read. Writes benchmarks/results/tune_<method>_<dataset>.json.

Run (for corrkd: after the benchmark has trained its teachers):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune.py benchmarks/configs/corrkd_synthetic.yaml corrkd
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune.py benchmarks/configs/corrkd_synthetic.yaml casd --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from robustmsa.benchmark import RunSpec, _experiment, load_benchmark_config
from robustmsa.config import ExperimentConfig, dataclass_from_dict
from robustmsa.engine.builder import method_class
from robustmsa.engine.trainer import Trainer
from robustmsa.fileio import atomic_write

GRIDS: dict[str, list[dict]] = {
    "corrkd": [
        {},
        {"scd_weight": 0.1},
        {"scd_weight": 0.01},
        {"scd_weight": 0.1, "cpd_weight": 10.0},
        {"scd_weight": 0.1, "margin": 1.0},
        {"scd_weight": 0.01, "rcd_weight": 0.1},
    ],
    "casd": [
        {"mean_task_weight": 0.0},
        {"mean_task_weight": 0.0, "init_scale": 0.1},
        {"mean_task_weight": 0.0, "init_scale": 0.02},
        {"mean_task_weight": 0.0, "init_scale": 0.1, "confidence": "sigma"},
        {"mean_task_weight": 1.0},
        {"mean_task_weight": 1.0, "init_scale": 0.1},
        {"mean_task_weight": 1.0, "beta": 0.0},
        {"mean_task_weight": 1.0, "consistency": "kl"},
    ],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", help="benchmark config (its base settings and out_dir are used)")
    ap.add_argument("method", choices=sorted(GRIDS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    bc = load_benchmark_config(args.config)
    base = dataclass_from_dict(ExperimentConfig, bc.base, "base")
    data = base.data.load()
    out = Path(bc.out_dir) / f"tune_{args.method}"
    frozen = method_class(args.method).teacher_mode == "frozen"
    rows = []
    for i, mc in enumerate(GRIDS[args.method]):
        scores = []
        for seed in args.seeds:
            teacher = str(Path(bc.out_dir) / f"teacher/seed{seed}/best.pt") if frozen else ""
            spec = RunSpec(name=f"{args.method}_tune{i}", method=args.method, method_config=mc)
            cfg = _experiment(bc, spec, seed, teacher)
            res = Trainer(cfg, data, out / f"cfg{i}" / f"seed{seed}").fit(overwrite=True)
            scores.append({"seed": seed, "valid_select_score": res.best_score,
                           "best_epoch": res.best_epoch})
        rows.append({"method_config": mc, "per_seed": scores,
                     "valid_select_score": float(np.mean([s["valid_select_score"] for s in scores]))})
        print(rows[-1], flush=True)
    best = max(rows, key=lambda r: r["valid_select_score"])
    dest = Path("benchmarks/results") / \
        f"tune_{args.method}_{data.info.name.replace(':', '_')}.json"
    atomic_write(dest, json.dumps({"config": args.config, "method": args.method,
                                "seeds": args.seeds, "selection": "validation only",
                                "best": best["method_config"], "rows": rows}, indent=1).encode())
    print("best on validation:", best["method_config"], "\nwrote", dest)


if __name__ == "__main__":
    main()
