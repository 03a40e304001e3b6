"""Cost table of every registered method on synthetic:mosi shapes (1284/229/686 clips, T = 50,
dims 300/5/20), with the architecture of benchmarks/configs/corrkd_synthetic_mosi.yaml.

Costs do not depend on trained weight values, so the methods are measured freshly built
(frozen-teacher methods get a freshly built teacher); training seconds per epoch come from the
benchmark runs' summary.json, not from here.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/costs.py
    -> benchmarks/results/costs_synthetic_mosi.json and .md
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from robustmsa.config import ExperimentConfig, dataclass_from_dict
from robustmsa.data import load_data
from robustmsa.data.prepare import prepare_with_train_stats
from robustmsa.evaluation.costs import COST_KEYS, measure_costs
from robustmsa.fileio import atomic_write
from robustmsa.methods import METHODS
from robustmsa.nn.backbone import MultimodalNet
from robustmsa.tasks import Task

REPO = Path(__file__).resolve().parents[1]
COLUMNS = {
    "params_deployed": "params deployed", "params_trainable": "params trained",
    "params_frozen": "params frozen", "mflops_infer_per_clip": "MFLOPs / clip (infer)",
    "mflops_train_per_clip": "MFLOPs / clip (train step)", "ms_per_clip_b1": "ms / clip (b=1)",
    "ms_per_clip_b128": "ms / clip (b=128)", "peak_mib_infer_b128": "peak MiB infer (b=128)",
    "peak_mib_train_b128": "peak MiB train (b=128)",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "benchmarks/configs/corrkd_synthetic_mosi.yaml"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/costs_synthetic_mosi"))
    args = ap.parse_args()
    import yaml

    base = yaml.safe_load(Path(args.config).read_text())["base"]
    cfg = dataclass_from_dict(ExperimentConfig, base, args.config)
    # the trainer's inputs (costs do not depend on the values, but the inputs are real ones)
    data, _ = prepare_with_train_stats(load_data(cfg.data.source, seed=cfg.data.seed))
    task = Task.build(cfg.task.kind, data.info)
    rows = {}
    for name in METHODS.names():
        cls = METHODS.get(name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            mcfg = dataclass_from_dict(cls.Config, {}, name)
            teacher = MultimodalNet(data.info.dims, task.num_outputs, cfg.model) \
                if cls.teacher_mode == "frozen" else None
            method = cls.build(mcfg, info=data.info, task=task, model=cfg.model, teacher=teacher)
        rows[name] = measure_costs(method, data, threads=args.threads, repeats=args.repeats)
        print(name, {k: rows[name][k] for k in ("params_deployed", "mflops_infer_per_clip",
                                                "ms_per_clip_b128")}, flush=True)
    meta = {"data": cfg.data.source, "model": base.get("model", {}), "task": cfg.task.kind,
            "threads": args.threads, "repeats": args.repeats, "torch": torch.__version__,
            "platform": platform.platform(), "command": "OMP_NUM_THREADS=1 .venv/bin/python "
            "benchmarks/costs.py"}
    out = Path(args.out)
    atomic_write(out.with_suffix(".json"), json.dumps({"meta": meta, "methods": rows},
                                                      indent=1).encode())
    md = [f"Cost on {cfg.data.source} shapes, {args.threads} thread(s); "
          f"peak memory = {next(iter(rows.values()))['peak_mem_method']}.", "",
          "| method | " + " | ".join(COLUMNS.values()) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    for name, r in rows.items():
        cells = [f"{r[k]:,}" if isinstance(r[k], int) else f"{r[k]:.3g}" if r[k] is not None
                 else "n/a" for k in COLUMNS]
        md.append(f"| {name} | " + " | ".join(cells) + " |")
    atomic_write(out.with_suffix(".md"), ("\n".join(md) + "\n").encode())
    assert set(COLUMNS) <= set(COST_KEYS)


if __name__ == "__main__":
    main()
