"""Tidy records -> per-seed cell values, following the report's conventions.

1. A row is (dataset, ``name`` — fallback ``method`` for old files —, ``missing_input``):
   runs with different ``missing_input`` are never averaged together.
2. A unit is (training ``seed``, ``fold``); with folds, cells average folds × seeds.
3. Summaries are recomputed from the per-condition records of each (unit, mask seed):
   "Avg." over the incomplete subsets *of the dataset's modalities*; AUC / mean over the
   rates that leave some input (frame / block drop at 1.0 is an end point reported apart).
4. Mask seeds are averaged only for conditions whose mask is random; a deterministic
   condition (complete, subsets) takes its one mask (the lowest mask seed) and the report
   notes any mask-seed disagreement (it would mean a non-deterministic model).
5. Two records with the same key but a different checkpoint or value are an error.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from robustmsa.errors import DataError
from robustmsa.evaluation.protocols import PROTOCOLS, incomplete_subsets
from robustmsa.evaluation.report.metric_info import NOT_SCORES, base
from robustmsa.evaluation.report.stats import Stat, summarize
from robustmsa.metrics import area_under_curve
from robustmsa.missing import parse_condition

SUMMARY_CONDITIONS = ("avg_incomplete", "auc", "mean")


@dataclass(frozen=True, order=True)
class Row:
    """One line of a table: a run label on one dataset with one missing-input convention."""

    dataset: str
    name: str
    missing_input: str  # "zeros" | "mask" | "" (not recorded)


Unit = tuple  # (seed, fold or None)
Key = tuple  # (Row, protocol, condition, metric)


def is_random(condition: str) -> bool:
    """Whether a condition's mask depends on the mask seed (unknown strings: assume so)."""
    try:
        return bool(parse_condition(condition).is_random)
    except ValueError:
        return True


def empties_all(condition: str) -> bool:
    """Whether a condition leaves every clip with no input (frame:1.0, block:1.0)."""
    try:
        return bool(parse_condition(condition).empties_all)
    except ValueError:
        return False


def curve_conditions(protocol: str, present: list[str]) -> list[str]:
    """The protocol's conditions that enter its AUC / mean: present and not all-empty."""
    return [c for c in PROTOCOLS[protocol].conditions if c in present and not empties_all(c)]


@dataclass
class Collection:
    rows: list[Row] = field(default_factory=list)
    methods: dict[Row, str] = field(default_factory=dict)  # row -> registry key
    values: dict[Key, dict[Unit, float]] = field(default_factory=dict)
    conditions: dict[str, list[str]] = field(default_factory=dict)  # protocol -> conditions
    metrics: dict[str, set[str]] = field(default_factory=dict)  # dataset -> metric names
    mask_seeds: list[int] = field(default_factory=list)
    random_conditions: set[str] = field(default_factory=set)
    has_folds: bool = False
    synthesized: set[str] = field(default_factory=set)  # base metrics averaged from targets
    notes: list[str] = field(default_factory=list)

    def stat(self, row: Row, protocol: str, condition: str, metric: str) -> Stat | None:
        v = self.values.get((row, protocol, condition, metric))
        return summarize(list(v.values())) if v else None

    def units(self, row: Row, protocol: str, condition: str, metric: str) -> dict[Unit, float]:
        return self.values.get((row, protocol, condition, metric), {})

    def rows_of(self, dataset: str) -> list[Row]:
        return [r for r in self.rows if r.dataset == dataset]

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(r.dataset for r in self.rows))

    def n_units(self, row: Row) -> int:
        return len({u for (r, *_), us in self.values.items() if r == row for u in us})


def _row(r: dict) -> Row:
    return Row(str(r["dataset"]), str(r.get("name") or r["method"]),
               str(r.get("missing_input") or ""))


def collect(records: list[dict], modalities: dict[str, tuple[str, ...] | None]) -> Collection:
    """Group, check and reduce records (module docstring); ``modalities``: dataset -> its
    modalities (``None`` = unknown: all six subsets)."""
    col = Collection()
    seen: dict[tuple, tuple[float, str]] = {}
    raw: dict[tuple, dict[str, float]] = defaultdict(dict)  # (row, unit, proto, metric, ms)
    for r in records:
        if r["condition"] in SUMMARY_CONDITIONS:
            continue  # recomputed below from the per-condition records
        row = _row(r)
        if row not in col.methods:
            col.rows.append(row)
            col.methods[row] = str(r["method"])
        fold = r.get("fold")
        unit = (int(r["seed"]), None if fold is None else int(fold))
        col.has_folds |= fold is not None
        key = (row, unit, r["protocol"], r["condition"], int(r["mask_seed"]), r["metric"])
        val, ck = float(r["value"]), str(r.get("checkpoint", ""))
        if key in seen and seen[key] != (val, ck) and not (np.isnan(val) and np.isnan(seen[key][0])):
            raise DataError(
                f"results: two records for {row.name} seed {unit[0]}"
                f"{'' if unit[1] is None else f' fold {unit[1]}'} {r['protocol']}/{r['condition']} "
                f"mask seed {key[4]} {r['metric']} differ (checkpoints {seen[key][1]!r} and "
                f"{ck!r}); runs with the same name and seed must not be averaged")
        seen[key] = (val, ck)
        raw[(row, unit, r["protocol"], r["metric"], key[4])][r["condition"]] = val
        col.conditions.setdefault(r["protocol"], [])
        if r["condition"] not in col.conditions[r["protocol"]]:
            col.conditions[r["protocol"]].append(r["condition"])
    col.mask_seeds = sorted({k[4] for k in raw})
    _synthesize_targets(raw, col)
    for (row, _u, _p, metric, _ms) in raw:
        col.metrics.setdefault(row.dataset, set()).add(metric)
    for (row, _unit, proto, metric, _ms), conds in list(raw.items()):
        if metric in NOT_SCORES:
            continue
        conds.update(_summaries(proto, conds, modalities.get(row.dataset)))
    _reduce_mask_seeds(raw, col)
    return col


def _synthesize_targets(raw: dict, col: Collection) -> None:
    """Per-target metrics ``X/target`` without an averaged ``X``: average the targets."""
    groups: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    have = {(k[0], k[1], k[2], k[4], k[3]) for k in raw}
    for (row, unit, proto, metric, ms), conds in raw.items():
        if "/" in metric and (row, unit, proto, ms, base(metric)) not in have:
            for c, v in conds.items():
                groups[(row, unit, proto, base(metric), ms)][c].append(v)
    for key, conds in groups.items():
        raw[key] = {c: float(np.mean(v)) for c, v in conds.items()}
        col.synthesized.add(key[3])


def _summaries(proto: str, conds: dict[str, float], mods: tuple[str, ...] | None) -> dict:
    spec = PROTOCOLS.get(proto)
    if spec is None or not spec.summary:
        return {}
    if spec.summary == "avg_incomplete":
        subs = incomplete_subsets(mods)
        if subs and all(c in conds for c in subs):
            return {"avg_incomplete": float(np.mean([conds[c] for c in subs]))}
        return {}
    cs = curve_conditions(proto, list(conds))
    if len(cs) < 2:
        return {}
    ys = [conds[c] for c in cs]
    if spec.summary == "auc":
        return {"auc": area_under_curve([spec.rate(c) for c in cs], ys)}
    return {"mean": float(np.mean(ys))}


def _summary_random(proto: str, cond: str) -> bool:
    if cond == "avg_incomplete":
        return False
    return any(is_random(c) for c in PROTOCOLS[proto].conditions if not empties_all(c))


def _reduce_mask_seeds(raw: dict, col: Collection) -> None:
    per: dict[tuple, dict[int, float]] = defaultdict(dict)  # (row, unit, proto, cond, metric)
    for (row, unit, proto, metric, ms), conds in raw.items():
        for c, v in conds.items():
            per[(row, unit, proto, c, metric)][ms] = v
    disagree: set[str] = set()
    for (row, unit, proto, c, metric), by_ms in per.items():
        rnd = _summary_random(proto, c) if c in SUMMARY_CONDITIONS else is_random(c)
        vals = [by_ms[m] for m in sorted(by_ms)]
        if rnd:
            col.random_conditions.add(c)
            v = float(np.mean(vals))
        else:
            v = vals[0]
            fin = [x for x in vals if np.isfinite(x)]
            if len(fin) > 1 and max(fin) - min(fin) > 1e-9:
                disagree.add(f"{row.name} {c}")
        col.values.setdefault((row, proto, c, metric), {})[unit] = v
    if disagree:
        col.notes.append(
            "⚠ deterministic conditions gave different values across mask seeds (a "
            f"non-deterministic model?): {', '.join(sorted(disagree)[:8])}"
            f"{' …' if len(disagree) > 8 else ''}; the lowest mask seed is shown.")
