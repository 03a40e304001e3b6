"""Synthetic result records for report tests (no training: values are set by a function)."""

from __future__ import annotations

from collections.abc import Callable

from robustmsa.evaluation.protocols import PROTOCOLS

Value = Callable[[str, int, str, str, int], float]


def fake_records(names: list[str], seeds=(0, 1, 2), *, value: Value, dataset: str = "tiny",
                 metrics=("F1",), protocols=("subsets", "frame_drop"), mask_seeds=(0, 1),
                 missing_input: str | None = "zeros", folds=(None,), method=None,
                 conditions=()) -> list[dict]:
    """One record per (name, seed, fold, protocol, condition, mask seed, metric)."""
    out = []
    plan = [(p, PROTOCOLS[p].conditions) for p in protocols]
    if conditions:
        plan.append(("custom", tuple(conditions)))
    for name in names:
        for seed in seeds:
            for fold in folds:
                for p, conds in plan:
                    for c in conds:
                        for ms in mask_seeds:
                            for m in metrics:
                                r = {"name": name, "method": (method or {}).get(name, name),
                                     "checkpoint": f"runs/{name}/seed{seed}/best.pt",
                                     "dataset": dataset, "protocol": p, "condition": c,
                                     "seed": seed, "mask_seed": ms, "metric": m,
                                     "value": value(name, seed, c, m, ms)}
                                if missing_input is not None:
                                    r["missing_input"] = missing_input
                                if fold is not None:
                                    r["fold"] = fold
                                out.append(r)
    return out
