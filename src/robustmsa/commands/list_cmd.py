"""``robustmsa list {methods,protocols,conditions}``."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list registered methods / protocols")
    p.add_argument("what", choices=["methods", "protocols"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "methods":
        from robustmsa.methods import METHODS

        for n in METHODS.names():
            cls = METHODS.get(n)
            doc = (cls.__module__ and __import__(cls.__module__, fromlist=["x"]).__doc__ or "")
            first = doc.strip().splitlines()[0] if doc.strip() else ""
            print(f"{n:12s} teacher={cls.teacher_mode:7s} {first}")
    else:
        from robustmsa.evaluation.protocols import PROTOCOLS

        for p in PROTOCOLS.values():
            print(f"{p.name:16s} {', '.join(p.conditions)}")
    return 0
