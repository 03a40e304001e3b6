"""``evaluate``: checkpoints x protocols x mask seeds -> tidy records (+ report).

Record format (one number per record, any table can be rebuilt from it)::

    {"method", "dataset", "protocol", "condition", "seed", "mask_seed", "metric", "value"}

``seed`` is the training seed of the run, ``mask_seed`` the evaluation mask seed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from robustmsa.data.schema import MSADataset
from robustmsa.evaluation.evaluator import MaskCache, evaluate_conditions
from robustmsa.evaluation.protocols import Protocol, get_protocol, incomplete_subsets
from robustmsa.inference import check_data_fits, load_method
from robustmsa.metrics import area_under_curve
from robustmsa.missing import parse_condition


def _summaries(protocol, recs: list[dict], modalities: tuple[str, ...] | None = None) -> list[dict]:
    """Summary records of one protocol ("Avg." over the dataset's incomplete subsets, AUC over
    the rates that leave some input: frame/block drop at 1.0 is left out). ``coverage``
    (a property of the data, not a score) gets no summary."""
    if not protocol.summary:
        return []
    by = defaultdict(dict)  # (mask_seed, metric) -> condition -> value
    for r in recs:
        if r["metric"] != "coverage":
            by[(r["mask_seed"], r["metric"])][r["condition"]] = r["value"]
    subsets = incomplete_subsets(modalities)
    out = []
    for (ms, metric), vals in by.items():
        if protocol.summary == "avg_incomplete":
            if subsets and all(c in vals for c in subsets):
                out.append({"condition": "avg_incomplete", "mask_seed": ms, "metric": metric,
                            "value": float(np.mean([vals[c] for c in subsets]))})
        else:
            conds = [c for c in protocol.conditions
                     if c in vals and not parse_condition(c).empties_all]
            ys = [vals[c] for c in conds]
            if protocol.summary == "auc":
                v = area_under_curve([protocol.rate(c) for c in conds], ys)
                out.append({"condition": "auc", "mask_seed": ms, "metric": metric, "value": v})
            else:
                out.append({"condition": "mean", "mask_seed": ms, "metric": metric,
                            "value": float(np.mean(ys))})
    return out


def data_protocol(proto: Protocol, modalities: tuple[str, ...]) -> Protocol:
    """``subsets`` restricted to the data's modalities (complete + its incomplete subsets: the
    6 of text/audio/vision, or ``a``, ``v`` for audio + vision data); others unchanged."""
    if proto.name != "subsets":
        return proto
    return Protocol(proto.name, ("complete", *incomplete_subsets(modalities)), proto.summary)


def evaluate_method(
    method: torch.nn.Module,
    data: MSADataset,
    *,
    protocols: Iterable[str] = ("subsets", "frame_drop"),
    conditions: Iterable[str] = (),
    mask_seeds: Iterable[int] = (0, 1, 2),
    split: str = "test",
    label: dict | None = None,
    cache: MaskCache | None = None,
    device: str | torch.device = "cpu",
) -> tuple[list[dict], float]:
    """Records for one method; returns (records, seconds spent)."""
    cache = cache or MaskCache()
    sp = data[split]
    label = label or {}
    t0 = time.perf_counter()
    out: list[dict] = []
    plan = [(get_protocol(p).name, data_protocol(get_protocol(p), sp.modalities))
            for p in protocols]
    if conditions:
        plan.append(("custom", Protocol("custom", tuple(conditions))))
    for pname, proto in plan:
        seeds = list(mask_seeds)
        recs = evaluate_conditions(method, sp, split_name=split, conditions=proto.conditions,
                                   mask_seeds=seeds, cache=cache, device=device)
        recs += _summaries(proto, recs, data.info.modalities)
        for r in recs:
            out.append({**label, "dataset": data.info.name, "protocol": pname, **r})
    return out, time.perf_counter() - t0


def evaluate(
    checkpoints: Iterable[str | Path],
    data: MSADataset,
    *,
    progress: Callable[[str], None] | None = None,
    **kwargs,
) -> tuple[list[dict], dict[str, float]]:
    """Evaluate several checkpoints on identical masks; returns (records, seconds per run).

    ``progress``, when given, receives one line per checkpoint as it finishes
    (``"checkpoint 2/5: corrkd seed 1 (runs/c/best.pt) 3.2 s"``).
    """
    cache = kwargs.pop("cache", None) or MaskCache()
    records, timing = [], {}
    checkpoints = list(checkpoints)
    for i, ck_path in enumerate(checkpoints, 1):
        method, ck = load_method(ck_path)
        check_data_fits(ck_path, method.info, data.info)
        cfg = ck["config"]
        label = {"method": cfg.get("name") or ck["method"], "seed": int(cfg.get("seed", 0))}
        recs, secs = evaluate_method(method, data, label=label, cache=cache, **kwargs)
        records += recs
        timing[str(ck_path)] = secs
        if progress is not None:
            progress(f"checkpoint {i}/{len(checkpoints)}: {label['method']} seed {label['seed']} "
                     f"({ck_path}) {secs:.1f} s")
    return records, timing
