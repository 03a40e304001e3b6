"""Validation-only tuning of a method's unknown hyper-parameters (the specs mark them unknown).

Trains every variant of a grid with a benchmark config's base settings (frozen-teacher methods
distil from the benchmark's teacher of the same seed, trained here first when missing) and
ranks them by the **validation** selection score (the trainer's: mean F1 over complete + the 6
incomplete subsets, ``train.min_delta`` tie rule); the test split is never read. Each row also
records the loss balance (`robustmsa.engine.diagnostics`): every term's share of the update at
the start and at the selected epoch, measured on training batches. Two choices are reported:

- ``best``: the highest validation score;
- ``best_acting``: the highest validation score among the variants in which every declared
  distinctive term (``Method.distill_terms``) has a share of at least 5 % averaged from the
  start to the selected epoch and over seeds (`robustmsa.engine.diagnostics.ACTING_SHARE`),
  i.e. the validated configuration in which the mechanisms under study actually act. Still
  chosen without the test split.

Finished runs are reused, so an interrupted sweep continues (``--only`` runs a few rows at a
time). Writes ``benchmarks/results/tune_<grid>_<dataset>_<task>.json`` with the command.

Run (examples; each a few minutes on 2 cores):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune.py benchmarks/configs/corrkd_synthetic.yaml corrkd
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune.py benchmarks/configs/corrkd_synthetic.yaml casd --seeds 0 1
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune.py benchmarks/configs/corrkd_mosi_bclstm.yaml corrkd --grid corrkd_scd
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import yaml

from robustmsa.benchmark import RunSpec, _experiment, load_benchmark_config
from robustmsa.config import ExperimentConfig, dataclass_from_dict, to_dict
from robustmsa.engine.builder import method_class
from robustmsa.engine.diagnostics import ACTING_SHARE, trajectory_mean
from robustmsa.engine.selection import Selection
from robustmsa.engine.trainer import Trainer
from robustmsa.fileio import atomic_write

_NORM = {"joint_blocks": "present", "scd_normalize": True}
GRIDS: dict[str, list[dict]] = {
    # the first sweep (synthetic:small): weights / margin of the spec's SCD
    "corrkd": [
        {},
        {"scd_weight": 0.1},
        {"scd_weight": 0.01},
        {"scd_weight": 0.1, "cpd_weight": 10.0},
        {"scd_weight": 0.1, "margin": 1.0},
        {"scd_weight": 0.01, "rcd_weight": 0.1},
    ],
    # SCD computed so that it carries information, then weights, margin and RCD temperature
    "corrkd_scd": [
        {},
        {"joint_blocks": "present"},
        {"scd_normalize": True},
        _NORM,
        {**_NORM, "scd_weight": 3.0},
        {**_NORM, "scd_weight": 3.0, "cpd_weight": 3.0},
        {**_NORM, "scd_weight": 3.0, "cpd_weight": 3.0, "rcd_weight": 10.0},
        {**_NORM, "scd_weight": 3.0, "cpd_weight": 3.0, "rcd_weight": 10.0, "temperature": 4.0},
        {"joint_blocks": "present", "scd_scale": "task"},
        {**_NORM, "margin": 1.0, "scd_weight": 3.0, "cpd_weight": 3.0},
        {**_NORM, "scd_weight": 3.0, "cpd_weight": 10.0, "rcd_weight": 10.0},
        {**_NORM, "cpd_weight": 10.0, "rcd_weight": 10.0},
        {**_NORM, "scd_weight": 10.0, "cpd_weight": 10.0},
        {**_NORM, "scd_weight": 10.0, "cpd_weight": 3.0},
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
    # CASD's small logit-consistency term (weight, temperature) and the uncertainty hinge's beta
    "casd_logits": [
        {},
        {"logit_weight": 10.0},
        {"temperature": 4.0},
        {"logit_weight": 10.0, "temperature": 4.0},
        {"logit_weight": 30.0, "temperature": 4.0},
        {"logit_weight": 10.0, "beta": 1.0},
        {"logit_weight": 10.0, "beta": 10.0},
    ],
    # MM-CKD: lambda and the labels that define MVSC's positives
    "mmckd": [
        {},
        {"mvsc_weight": 1.0},
        {"mvsc_weight": 3.0},
        {"contrast_labels": "sentiment3"},
        {"contrast_labels": "sentiment3", "mvsc_weight": 1.0},
        {"contrast_labels": "sentiment3", "mvsc_weight": 3.0},
    ],
}


def run_grid(bc, method: str, grid: list[dict], seeds: list[int], out: Path, data,
             only: set[int] | None = None) -> list[dict]:
    """Train (or reuse) every variant x seed; rows with validation scores and loss balance."""
    cls = method_class(method)
    frozen = cls.teacher_mode == "frozen"
    teacher_run = next((r for r in bc.runs if r.method == "teacher"), RunSpec("teacher", "teacher"))
    rows = []
    for i, mc in enumerate(grid):
        if only is not None and i not in only:
            continue
        per_seed = []
        for seed in seeds:
            teacher = ""
            if frozen:
                t_dir = Path(bc.out_dir) / teacher_run.name / f"seed{seed}"
                _fit(_experiment(bc, teacher_run, seed, ""), data, t_dir)
                teacher = str(t_dir / "best.pt")
            spec = RunSpec(name=f"{method}_tune{i}", method=method, method_config=mc)
            cfg = _experiment(bc, spec, seed, teacher)
            run_dir = out / f"cfg{i}" / f"seed{seed}"
            s = _fit(cfg, data, run_dir)
            lb = s.get("loss_balance", {})
            per_seed.append({
                "seed": seed, "valid_select_score": s["best_score"], "best_epoch": s["best_epoch"],
                "epochs_run": s["epochs_run"],
                "share_start": {k: v["share"] for k, v in lb.get("start", {}).items()},
                "share_best": {k: v["share"] for k, v in lb.get("best", {}).items()},
                "share_mean": _mean_to_best(run_dir, s["best_epoch"]),
                "weight_best": {k: v["weight"] for k, v in lb.get("best", {}).items()},
                "clip_best": lb.get("best_total", {}).get("clip_factor"),
            })
        terms = [k for k in cls.distill_terms
                 if any(p["weight_best"].get(k, 0) != 0 for p in per_seed)]
        mean_share = {k: float(np.mean([p["share_mean"].get(k, 0.0) for p in per_seed]))
                      for k in per_seed[0]["share_mean"]}
        rows.append({
            "index": i, "method_config": mc, "seeds": list(seeds), "per_seed": per_seed,
            "valid_select_score": float(np.mean([p["valid_select_score"] for p in per_seed])),
            "mean_share": mean_share,
            "all_distill_acting": bool(terms) and all(mean_share.get(k, 0) >= ACTING_SHARE
                                                      for k in terms),
        })
        print(json.dumps({k: rows[-1][k] for k in ("index", "method_config", "valid_select_score",
                                                   "mean_share", "all_distill_acting")}),
              flush=True)
    return rows


def _mean_to_best(run_dir: Path, best_epoch: int) -> dict[str, float]:
    """term -> share averaged over the loss-balance measurements from the start to the best
    epoch (read from metrics.jsonl; what ``summary.json["loss_balance"]["mean_to_best"]``
    holds in runs of this version)."""
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    meas = [r["balance"] for r in recs if r["type"] == "balance"]
    meas += [r["balance"] for r in recs if r["type"] == "epoch" and "balance" in r
             and r["epoch"] <= best_epoch]
    return {k: v["share"] for k, v in trajectory_mean(meas).items()}


def _fit(cfg: ExperimentConfig, data, run_dir: Path) -> dict:
    """Train unless a finished run with the same config exists; returns its summary."""
    summary, conf = run_dir / "summary.json", run_dir / "config.yaml"
    if not (summary.exists() and conf.exists()
            and yaml.safe_load(conf.read_text()) == to_dict(cfg)):
        Trainer(cfg, data, run_dir).fit(overwrite=True)  # an unfinished / stale run
    return json.loads(summary.read_text())


def pick(rows: list[dict], sel: Selection) -> dict:
    """Best row on validation; a later row must beat the current best by more than min_delta
    (so the earlier, simpler variant wins ties)."""
    best = rows[0]
    for r in rows[1:]:
        if sel.improves(r["valid_select_score"], best["valid_select_score"]):
            best = r
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", help="benchmark config (its base settings and out_dir are used)")
    ap.add_argument("method", help="registry key of the method to tune")
    ap.add_argument("--grid", default="", help=f"grid name (default: the method); {sorted(GRIDS)}")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--only", type=int, nargs="+", default=None, help="run these grid rows only")
    ap.add_argument("overrides", nargs="*", help="benchmark overrides, e.g. base.task.kind=sentiment7")
    args = ap.parse_args()
    grid_name = args.grid or args.method
    if grid_name not in GRIDS:
        sys.exit(f"unknown grid {grid_name!r}; valid: {', '.join(sorted(GRIDS))}")
    bc = load_benchmark_config(args.config, args.overrides)
    base = dataclass_from_dict(ExperimentConfig, bc.base, "base")
    data = base.data.load()
    out = Path(bc.out_dir) / f"tune_{grid_name}"
    grid = GRIDS[grid_name]
    only = set(args.only) if args.only is not None else None
    rows = run_grid(bc, args.method, grid, args.seeds, out, data, only)
    dest = Path("benchmarks/results") / (
        f"tune_{grid_name}_{data.info.name.replace(':', '_')}_{base.task.kind}.json")
    cmd = " ".join(["OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune.py", args.config,
                    args.method, "--grid", grid_name, "--seeds", *map(str, args.seeds),
                    *map(shlex.quote, args.overrides)]
                   + (["--only", *map(str, sorted(only))] if only is not None else []))
    commands = [cmd]
    if only is not None and dest.exists():  # partial run: merge with the rows already written
        prev = json.loads(dest.read_text())
        rows = sorted([r for r in prev["rows"] if r["index"] not in only] + rows,
                      key=lambda r: r["index"])
        commands = prev.get("commands", []) + commands
    sel = Selection(base.train.select_metric, (), base.train.min_delta)
    complete = len(rows) == len(grid)
    acting = [r for r in rows if r["all_distill_acting"]]
    payload = {
        "commands": commands, "config": args.config, "overrides": args.overrides,
        "method": args.method, "grid": grid_name, "selection": "validation only",
        "select_metric": sel.metric, "direction": sel.direction, "min_delta": sel.min_delta,
        "acting_threshold": ACTING_SHARE, "complete": complete,
        "best": pick(rows, sel)["method_config"] if rows else None,
        "best_acting": pick(acting, sel)["method_config"] if acting else None,
        "rows": rows,
    }
    atomic_write(dest, json.dumps(payload, indent=1).encode())
    print("best on validation:", payload["best"], "\nbest with every distinctive term acting:",
          payload["best_acting"], f"\n{'' if complete else '(partial) '}wrote", dest)


if __name__ == "__main__":
    main()
