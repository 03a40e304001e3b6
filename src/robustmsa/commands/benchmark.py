"""``robustmsa benchmark``: train + evaluate several methods over seeds, one report."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark", help="compare methods over seeds (train + evaluate + report)",
        description="Example: robustmsa benchmark --config configs/demo.yaml seeds=[0,1]",
    )
    p.add_argument("--config", required=True, help="benchmark YAML (see configs/)")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides, e.g. out_dir=runs/x")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from robustmsa.benchmark import load_benchmark_config, run_benchmark

    bc = load_benchmark_config(args.config, args.overrides)
    report = run_benchmark(bc)
    print(f"report: {report}")
    print(f"results: {report.parent / 'results.json'}")
    return 0
