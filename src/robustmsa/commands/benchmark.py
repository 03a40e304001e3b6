"""``robustmsa benchmark``: train + evaluate several methods over seeds, one report."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark", help="compare methods over seeds (train + evaluate + report)",
        description="Example: robustmsa benchmark --config configs/demo.yaml --workers 2 seeds=[0,1]. "
                    "Trainings are independent runs (a seed's teacher first); finished runs are "
                    "reused, so an interrupted benchmark resumes. Each training uses "
                    "train.threads torch threads (default 1).",
    )
    p.add_argument("--config", required=True, help="benchmark YAML (see configs/)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="train N runs at once in local processes (default 1: this process); "
                        "with --ray local, the CPUs of the local Ray instance")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run the trainings as Ray tasks on the cluster at ADDRESS ('local' starts "
                        "one); needs pip install 'robustmsa[ray]' and out_dir on shared storage")
    p.add_argument("--no-progress", action="store_true", help="no 'k of N runs done' line")
    p.add_argument("--report-only", action="store_true",
                   help="re-render report.md, tables and figures of a finished benchmark from "
                        "its results.json, cost files and run summaries (no training, no "
                        "evaluation)")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides, e.g. out_dir=runs/x")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from robustmsa.benchmark import load_benchmark_config, run_benchmark
    from robustmsa.errors import ConfigError

    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1; got {args.workers}")
    bc = load_benchmark_config(args.config, args.overrides)
    report = run_benchmark(bc, workers=args.workers, ray_address=args.ray,
                           progress=not args.no_progress, report_only=args.report_only)
    print(f"report: {report}")
    print(f"results: {report.parent / 'results.json'}")
    return 0
