"""The effect of the missing-input convention (`model.missing_input`) on the same checkpoints.

Every trained checkpoint of a benchmark directory is evaluated twice on the test split, on
identical masks: under ``zeros`` (the papers' protocol: missing frames and modalities are zero
vectors the encoders see) and under ``mask`` (they are also removed from attention and
pooling). The weights are the same; only what the network is told about missingness changes.
Runs that are missing are trained first with the benchmark's settings (``--runs`` restricts
which), so ``--runs teacher`` measures the teachers alone in about a minute on real MOSI.

Run:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/missing_input.py \
        benchmarks/configs/corrkd_mosi_bclstm.yaml --runs teacher
    → benchmarks/results/missing_input_mosi_bclstm.json and .md
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from robustmsa.benchmark import _experiment, load_benchmark_config
from robustmsa.config import ExperimentConfig, dataclass_from_dict, to_dict
from robustmsa.engine.builder import method_class
from robustmsa.engine.trainer import Trainer
from robustmsa.evaluation.api import evaluate_method
from robustmsa.evaluation.evaluator import MaskCache
from robustmsa.evaluation.protocols import INCOMPLETE_SUBSETS
from robustmsa.fileio import atomic_write
from robustmsa.inference import load_method

COLUMNS = (*INCOMPLETE_SUBSETS, "avg_incomplete", "complete")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", help="benchmark config (its runs, seeds, mask seeds and out_dir)")
    ap.add_argument("--runs", nargs="+", default=None, help="run names (default: every run)")
    ap.add_argument("--out", default="", help="output stem (default benchmarks/results/"
                    "missing_input_<dataset>)")
    args = ap.parse_args()
    bc = load_benchmark_config(args.config)
    base = dataclass_from_dict(ExperimentConfig, bc.base, "base")
    data = base.data.load()
    runs = [r for r in bc.runs if args.runs is None or r.name in args.runs]
    runs.sort(key=lambda r: method_class(r.method).teacher_mode == "frozen")  # teachers first
    teacher = next((r for r in bc.runs if r.method == "teacher"), None)
    cache = MaskCache()
    records = []
    for seed in bc.seeds:
        t_ck = str(Path(bc.out_dir) / f"{teacher.name}/seed{seed}/best.pt") if teacher else ""
        for run in runs:
            cfg = _experiment(bc, run, seed, t_ck)
            run_dir = Path(bc.out_dir) / run.name / f"seed{seed}"
            done = (run_dir / "summary.json").exists() and (run_dir / "config.yaml").exists() \
                and yaml.safe_load((run_dir / "config.yaml").read_text()) == to_dict(cfg)
            if not done:
                Trainer(cfg, data, run_dir).fit(overwrite=True)
            trained = cfg.model.missing_input
            for mi in ("zeros", "mask"):
                method, _ = load_method(run_dir / "best.pt", missing_input=mi)
                recs, _ = evaluate_method(method, data, protocols=["subsets"],
                                          mask_seeds=bc.mask_seeds, cache=cache,
                                          label={"method": run.name, "seed": seed,
                                                 "trained_with": trained})
                records += [r for r in recs if r["metric"] == "F1"]
    # mean over mask seeds, then mean / sample std over training seeds
    per_seed = defaultdict(list)
    for r in records:
        per_seed[(r["method"], r["trained_with"], r["missing_input"], r["condition"], r["seed"])
                 ].append(r["value"])
    by = defaultdict(list)
    for (m, tw, mi, c, _s), v in per_seed.items():
        by[(m, tw, mi, c)].append(float(np.mean(v)))
    rows = []
    for (m, tw, mi) in dict.fromkeys((k[0], k[1], k[2]) for k in by):
        cells = {c: by.get((m, tw, mi, c), []) for c in COLUMNS}
        rows.append({"name": m, "trained_with": tw, "evaluated_with": mi, "n_seeds": len(bc.seeds),
                     "mean": {c: float(np.mean(v)) for c, v in cells.items() if v},
                     "std_ddof1": {c: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
                                   for c, v in cells.items() if v}})
    stem = Path(args.out or f"benchmarks/results/missing_input_{data.info.name.replace(':', '_')}")
    cmd = f"OMP_NUM_THREADS=1 .venv/bin/python benchmarks/missing_input.py {args.config}" + (
        f" --runs {' '.join(args.runs)}" if args.runs else "")
    atomic_write(stem.with_suffix(".json"), json.dumps(
        {"command": cmd, "config": args.config, "seeds": bc.seeds, "mask_seeds": bc.mask_seeds,
         "metric": "F1 (test split)", "rows": rows}, indent=1).encode())
    head = "| Run | trained with | evaluated with | " + " | ".join(
        {"avg_incomplete": "**Avg.**", "complete": "tav"}.get(c, c) for c in COLUMNS) + " |"
    md = [f"# Missing-input convention on {data.info.name}", "", f"`{cmd}`", "",
          f"Weighted F1 ×100 on the test split, mean ± sample std (ddof 1) over training seeds "
          f"{bc.seeds}, each averaged over mask seeds {bc.mask_seeds}.", "", head,
          "|" + "---|" * (len(COLUMNS) + 3)]
    for r in rows:
        cells = [f"{100 * r['mean'][c]:.2f} ± {100 * r['std_ddof1'][c]:.2f}" if c in r["mean"]
                 else "—" for c in COLUMNS]
        md.append(f"| {r['name']} | {r['trained_with']} | {r['evaluated_with']} | "
                  + " | ".join(cells) + " |")
    atomic_write(stem.with_suffix(".md"), ("\n".join(md) + "\n").encode())
    print("\n".join(md))


if __name__ == "__main__":
    main()
