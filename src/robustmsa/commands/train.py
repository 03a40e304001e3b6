"""``robustmsa train``: fit one method (config file + ``key.sub=value`` overrides)."""

from __future__ import annotations

import argparse
import dataclasses
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train one method",
        description="Train one method. Example: robustmsa train --config configs/corrkd.yaml "
        "method=corrkd teacher=runs/teacher/best.pt train.epochs=30 --out runs/corrkd",
    )
    p.add_argument("--config", help="YAML file of overrides (optional)")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides, e.g. train.epochs=5")
    p.add_argument("--out", required=False, default="", help="run directory (default runs/<method>-seed<seed>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in OUT from OUT/last.pt (only train.epochs, "
                   "train.patience, train.progress, train.log_every, train.device and name may "
                   "differ from the run's config)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in OUT (its config.yaml, env.json, metrics.jsonl, "
                   "summary.json, best.pt, last.pt are deleted first); without it a non-empty OUT "
                   "is refused")
    p.add_argument("--help-config", action="store_true",
                   help="print every config field with its default and exit")
    p.set_defaults(func=run)


def _describe(cls, prefix: str = "") -> list[str]:
    lines = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        if dataclasses.is_dataclass(default):
            lines += _describe(type(default), prefix + f.name + ".")
        else:
            lines.append(f"{prefix}{f.name} = {default!r}")
    return lines


def run(args: argparse.Namespace) -> int:
    from robustmsa.config import ExperimentConfig, load_config
    from robustmsa.engine.builder import method_class
    from robustmsa.engine.trainer import train

    if args.help_config:
        print("\n".join(_describe(ExperimentConfig)))
        cfg = load_config(args.config, args.overrides)
        cls = method_class(cfg.method)
        print(f"\nmethod_config for {cfg.method!r} ({cls.Config.__name__}):")
        print("\n".join("  " + s for s in _describe(cls.Config)) or "  (none)")
        return 0
    from robustmsa.engine.distributed import process_group_from_env
    from robustmsa.engine.selection import Selection

    cfg = load_config(args.config, args.overrides)
    out = args.out or f"runs/{cfg.name or cfg.method}-seed{cfg.seed}"
    # under torchrun: one data-parallel process per rank (robustmsa.engine.distributed)
    with process_group_from_env(cfg.train.device) as (rank, _):
        res = train(cfg, out, resume=args.resume, overwrite=args.overwrite)
    if rank != 0:
        return 0
    print(json.dumps({"run_dir": str(res.run_dir), "best_epoch": res.best_epoch,
                      "best_valid_score": res.best_score,
                      "select_metric": cfg.train.select_metric,
                      "direction": Selection(cfg.train.select_metric, ()).direction,
                      "epochs": res.epochs_run,
                      "seconds_per_epoch": res.seconds_per_epoch}, indent=2))
    return 0
