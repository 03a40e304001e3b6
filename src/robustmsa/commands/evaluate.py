"""``robustmsa evaluate``: checkpoints x protocols x mask seeds -> results.json + report.md."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate checkpoints under missing-modality protocols",
        description="Evaluate one or more checkpoints on identical, seeded masks. Protocols: "
        "subsets (complete + 6 incomplete subsets + Avg.), frame_drop (p=0.0..1.0), eta, block, "
        "lnln, text_substitute. Extra single conditions with --condition (e.g. frame:0.3, eta:0.5). "
        "Each checkpoint sees the data standardised with its own training statistics.",
    )
    p.add_argument("--checkpoint", "-c", action="append", required=True, help="best.pt (repeatable)")
    p.add_argument("--name", action="append", default=None,
                   help="run name of the report row, one per --checkpoint in the same order "
                   "(default: the run's config name, else its run directory)")
    p.add_argument("--data", default="", help="dataset (default: the one in the checkpoint config)")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--protocol", action="append", default=[], help="protocol name (repeatable)")
    p.add_argument("--condition", action="append", default=[], help="extra condition (repeatable)")
    p.add_argument("--mask-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/evaluation", help="output directory")
    p.add_argument("--missing-input", choices=["zeros", "mask"], default=None,
                   help="run the checkpoints under this missing-input convention (default: the "
                   "one each was trained with; recorded in results.json)")
    p.set_defaults(func=run)


def data_source_of(checkpoints: list[str], override: str = "") -> tuple[str, int]:
    """(source, seed) to load: ``--data`` (with the first checkpoint's data seed), or the data
    every checkpoint was trained on.

    Raises:
        ConfigError: the checkpoints were trained on different data and no ``--data`` is given.
    """
    from robustmsa.engine.checkpoint import load_checkpoint
    from robustmsa.errors import ConfigError

    seen: dict[tuple[str, int], str] = {}
    for c in checkpoints:
        d = load_checkpoint(c)["config"].get("data") or {}
        seen.setdefault((str(d.get("source", "")), int(d.get("seed", 0))), c)
    if override:
        return override, next(iter(seen))[1]
    if len(seen) > 1:
        shown = "; ".join(f"{c}: {s} (seed {sd})" for (s, sd), c in seen.items())
        raise ConfigError(f"the checkpoints were trained on different data ({shown}); pass "
                          "--data to evaluate them on one dataset")
    return next(iter(seen))


def evaluated_datasets(checkpoints: list[str], data):
    """What the report describes: ``[data]``, or the CV folds the checkpoints were trained on
    (carved from ``data`` as `prepare_for_checkpoint` carves them) when every checkpoint is a
    fold checkpoint."""
    from robustmsa.data.cv import fold_for
    from robustmsa.data.prepare import checkpoint_info
    from robustmsa.engine.checkpoint import load_checkpoint

    folds: dict[tuple, dict] = {}
    for c in checkpoints:
        cv = checkpoint_info(load_checkpoint(c), str(c)).cv
        if not cv:
            return [data]
        folds.setdefault((cv["folds"], cv["fold"], tuple(cv["pool"]), cv["seed"]), cv)
    return [fold_for(data, cv) for _, cv in sorted(folds.items())]


def run(args: argparse.Namespace) -> int:
    from robustmsa.data import load_data
    from robustmsa.engine.checkpoint import load_checkpoint
    from robustmsa.evaluation.api import evaluate
    from robustmsa.evaluation.protocols import get_protocol
    from robustmsa.evaluation.report import write_report
    from robustmsa.missing import parse_condition
    from robustmsa.tasks import Task

    protocols = args.protocol or (["subsets", "frame_drop"] if not args.condition else [])
    for p in protocols:  # every argument is checked before anything is loaded
        get_protocol(p)
    for c in args.condition:
        parse_condition(c)
    if any(ms < 0 for ms in args.mask_seeds):
        from robustmsa.errors import ConfigError

        raise ConfigError(f"--mask-seeds must be >= 0; got {args.mask_seeds}")
    source, seed = data_source_of(args.checkpoint, args.data)
    data = load_data(source, seed=seed)  # raw: each checkpoint's statistics are applied to it
    records, _ = evaluate(args.checkpoint, data, names=args.name, protocols=protocols,
                          conditions=args.condition, mask_seeds=args.mask_seeds, split=args.split,
                          progress=lambda line: print(line, file=sys.stderr, flush=True),
                          missing_input=args.missing_input)
    task = Task.from_dict(load_checkpoint(args.checkpoint[0])["task"])
    datasets = evaluated_datasets(args.checkpoint, data)
    report = write_report(records, args.out, title=f"Evaluation on {data.info.name} [{args.split}]",
                          data=datasets if datasets[0].info.cv else datasets[0], task=task,
                          split=args.split)
    from robustmsa.benchmark_extra import extra_sections

    extra_sections(report, records, datasets, None, split=args.split)  # natural missingness
    print(f"wrote {report} and {report.parent / 'results.json'}")
    return 0
