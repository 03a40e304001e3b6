"""``robustmsa evaluate``: checkpoints x protocols x mask seeds -> results.json + report.md."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate checkpoints under missing-modality protocols",
        description="Evaluate one or more checkpoints on identical, seeded masks. Protocols: "
        "subsets (complete + 6 incomplete subsets + Avg.), frame_drop (p=0.0..1.0), eta, block, "
        "lnln, text_substitute. Extra single conditions with --condition (e.g. frame:0.3, eta:0.5).",
    )
    p.add_argument("--checkpoint", "-c", action="append", required=True, help="best.pt (repeatable)")
    p.add_argument("--data", default="", help="dataset (default: the one in the checkpoint config)")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--protocol", action="append", default=[], help="protocol name (repeatable)")
    p.add_argument("--condition", action="append", default=[], help="extra condition (repeatable)")
    p.add_argument("--mask-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/evaluation", help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from robustmsa.config import DataConfig, dataclass_from_dict
    from robustmsa.engine.checkpoint import load_checkpoint
    from robustmsa.evaluation.api import evaluate
    from robustmsa.evaluation.report import write_report
    from robustmsa.tasks import Task

    ck = load_checkpoint(args.checkpoint[0])
    data_cfg = dataclass_from_dict(DataConfig, ck["config"]["data"], "checkpoint data config")
    if args.data:
        data_cfg.source = args.data
    data = data_cfg.load()
    protocols = args.protocol or (["subsets", "frame_drop"] if not args.condition else [])
    records, _ = evaluate(args.checkpoint, data, protocols=protocols, conditions=args.condition,
                          mask_seeds=args.mask_seeds, split=args.split,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
    report = write_report(records, args.out, title=f"Evaluation on {data.info.name} [{args.split}]",
                          data=data, task=Task.from_dict(ck["task"]), split=args.split)
    from robustmsa.benchmark_extra import extra_sections

    extra_sections(report, records, [data], None, split=args.split)  # natural missingness
    print(f"wrote {report} and {report.parent / 'results.json'}")
    return 0
