"""``robustmsa benchmark``: train several methods over several seeds, evaluate all of them on
identical masks, and write one comparison report.

For every seed the ``teacher`` run is trained first; frozen-teacher methods of that seed are
distilled from it. Training gets the raw data (the trainer standardises with its training
split); each checkpoint is evaluated on the raw data prepared for it
(`robustmsa.data.prepare.prepare_for_checkpoint`), records named by the run. A finished run
(its ``summary.json`` exists with the same config) is reused, so an interrupted benchmark
continues where it stopped; an unfinished or stale one is trained again (``overwrite``).

Cross-validation (``base.data.cv_folds=K``) is one more grid dimension: a fold is a different
``data`` config (`robustmsa.data.cv.benchmark_folds`), carved from data read once, run
directories become ``RUN/foldF/seedS``, each fold has its own teacher and mask cache, and
records carry ``fold`` (run identity = (name, seed, fold)).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from robustmsa.benchmark_extra import extra_sections
from robustmsa.config import (
    ExperimentConfig,
    dataclass_from_dict,
    deep_merge,
    parse_overrides,
    read_yaml,
    to_dict,
)
from robustmsa.data import load_data
from robustmsa.data.cv import benchmark_folds, cv_spec, fold_for
from robustmsa.data.schema import MSADataset
from robustmsa.engine.builder import method_class
from robustmsa.engine.diagnostics import write_benchmark_balance
from robustmsa.engine.trainer import Trainer
from robustmsa.errors import ConfigError
from robustmsa.evaluation.api import evaluate_method, run_label
from robustmsa.evaluation.costs import measure_run_costs, merge_costs
from robustmsa.evaluation.evaluator import MaskCache
from robustmsa.evaluation.report import balance_entries, write_report
from robustmsa.inference import load_method
from robustmsa.tasks import Task

logger = logging.getLogger(__name__)


@dataclass
class RunSpec:
    """One row of the comparison.

    Attributes:
        name: label in the report (e.g. ``corrkd_wo_scd``).
        method: registry key.
        method_config: the method's Config overrides.
        overrides: further overrides of the experiment config (e.g. ``{train: {epochs: 5}}``).
        compare_to: run name(s) the report pairs this run against as its parent (default:
            the run named after its method, else the longest name prefix).
    """

    name: str
    method: str
    method_config: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    compare_to: list[str] = field(default_factory=list)


@dataclass
class BenchmarkConfig:
    """Attributes:
    base: experiment settings shared by every run (data, task, model, train).
    runs: the methods to compare; the ``teacher`` run is required by frozen-teacher methods.
    seeds: training seeds. mask_seeds: evaluation mask seeds.
    protocols: evaluation protocols (``subsets``, ``frame_drop``, ``eta``, ...).
    conditions: extra single conditions to evaluate.
    out_dir: where runs and the report go.
    title: report title.
    metric: primary metric of the report (empty = the task's first headline metric).
    folds: CV folds to run when ``base.data.cv_folds`` is set (empty = all).
    floors: reference points shown as floors: ``{file: JSON, dataset: ..., setting: ...}``
        (`robustmsa.benchmark_extra`); empty = none.
    """

    base: dict[str, Any] = field(default_factory=dict)
    runs: list[RunSpec] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    mask_seeds: list[int] = field(default_factory=lambda: [0])
    protocols: list[str] = field(default_factory=lambda: ["subsets", "frame_drop"])
    conditions: list[str] = field(default_factory=list)
    out_dir: str = "runs/benchmark"
    title: str = "robustmsa benchmark"
    metric: str = ""
    folds: list[int] = field(default_factory=list)
    floors: dict[str, Any] = field(default_factory=dict)


def load_benchmark_config(path: str | Path, overrides: list[str] | None = None) -> BenchmarkConfig:
    raw = deep_merge(read_yaml(path), parse_overrides(overrides or [], BenchmarkConfig))
    cfg = dataclass_from_dict(BenchmarkConfig, raw, str(path))
    names = [r.name for r in cfg.runs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: run names must be unique; got {names}")
    for r in cfg.runs:
        method_class(r.method)
    return cfg


def _experiment(bc: BenchmarkConfig, run: RunSpec, seed: int, teacher: str,
                base: dict | None = None) -> ExperimentConfig:
    raw = deep_merge(bc.base if base is None else base, run.overrides)
    raw = deep_merge(raw, {"method": run.method, "method_config": run.method_config,
                           "seed": seed, "name": run.name})
    if method_class(run.method).teacher_mode == "frozen":
        raw["teacher"] = teacher
    return dataclass_from_dict(ExperimentConfig, raw, f"runs[{run.name}]")


def run_benchmark(bc: BenchmarkConfig, data: MSADataset | None = None) -> Path:
    """Train + evaluate every run for every seed; returns the report path."""
    out = Path(bc.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.yaml").write_text(yaml.safe_dump(to_dict(bc), sort_keys=False))
    order = sorted(bc.runs, key=lambda r: method_class(r.method).teacher_mode == "frozen")
    needs_teacher = any(method_class(r.method).teacher_mode == "frozen" for r in bc.runs)
    teacher_run = next((r for r in bc.runs if r.method == "teacher"), None)
    if needs_teacher and teacher_run is None:
        raise ConfigError("frozen-teacher methods need a run with method: teacher")
    records, costs, balance, profiles = [], [], [], {}
    datasets = []
    source_data: MSADataset | None = data  # uncarved (or as given): each fold is carved from it
    for fold, fold_base in benchmark_folds(bc.base, bc.folds):  # [(None, base)] without CV
        base = dataclass_from_dict(ExperimentConfig, fold_base, "base")
        if source_data is None:
            source_data = load_data(base.data.source, seed=base.data.seed)  # raw, read once
        data_f = fold_for(source_data, cv_spec(base.data), who="benchmark base.data")
        datasets.append(data_f)
        cache = MaskCache()  # per fold: another fold's test split is other samples
        sub = "" if fold is None else f"fold{fold}/"
        for seed in bc.seeds:
            teacher_ckpt = str(out / f"{teacher_run.name}/{sub}seed{seed}/best.pt") if teacher_run \
                else ""
            for run in order:
                cfg = _experiment(bc, run, seed, teacher_ckpt, fold_base)
                run_dir = out / run.name / f"{sub}seed{seed}"
                summary = run_dir / "summary.json"
                done = summary.exists() and (run_dir / "config.yaml").exists() and \
                    yaml.safe_load((run_dir / "config.yaml").read_text()) == to_dict(cfg)
                t0 = time.perf_counter()
                if not done:
                    logger.info("training %s%s seed %d", run.name,
                                "" if fold is None else f" fold {fold}", seed)
                    Trainer(cfg, data_f, run_dir).fit(overwrite=True)  # an unfinished / stale run
                res = json.loads(summary.read_text())
                balance += balance_entries(res, run.name, seed)
                method, ck = load_method(run_dir / "best.pt")
                label = run_label(ck, run_dir / "best.pt", run.name)  # carries fold under CV
                recs, eval_s = evaluate_method(  # raw data, prepared for ck (one data path)
                    method, data_f, protocols=bc.protocols, conditions=bc.conditions,
                    mask_seeds=bc.mask_seeds, label=label, cache=cache, checkpoint=ck)
                records += recs
                if run.name not in profiles:  # compute cost, once per run (robustmsa.evaluation.costs)
                    profiles[run.name] = measure_run_costs(cfg, run_dir, data_f)
                costs.append({"method": run.name, "seed": seed, "params_total": res["num_parameters"],
                              "params_deployed": res["num_deployable_parameters"],
                              "epochs": res["epochs_run"], "best_epoch": res["best_epoch"],
                              "s_per_epoch": res["seconds_per_epoch"], "eval_s": eval_s,
                              "wall_s": time.perf_counter() - t0}
                             | ({} if fold is None else {"fold": fold}))
    costs_avg = merge_costs(_average_costs(costs), profiles)
    (out / "cost_profile.json").write_text(json.dumps(profiles, indent=1))
    (out / "costs.json").write_text(json.dumps(costs, indent=1))
    cv = bool(datasets[0].info.cv)
    folds = [d.info.cv["fold"] for d in datasets] if cv else None
    write_benchmark_balance(out, [r.name for r in bc.runs], bc.seeds, folds=folds)  # loss_balance.md / .json
    report = write_report(records, out, title=bc.title, costs=costs_avg, metric=bc.metric or None,
                          preamble=f"Config: `{out / 'benchmark.yaml'}`. Seeds: {bc.seeds}."
                          + (f" CV folds: {folds}." if cv else "")
                          + " Loss balance with the acting / inert verdict per distinctive term: "
                          "`loss_balance.md`.",
                          data=datasets if cv else datasets[0],
                          task=Task.build(base.task.kind, datasets[0].info), balance=balance,
                          compare_to={r.name: r.compare_to for r in bc.runs if r.compare_to})
    return extra_sections(report, records, datasets, bc)


def _average_costs(costs: list[dict]) -> list[dict]:
    by: dict[str, list[dict]] = {}
    for c in costs:
        by.setdefault(c["method"], []).append(c)
    out = []
    for m, cs in by.items():
        out.append({
            "method": m,
            "params (deployed)": cs[0]["params_deployed"],
            "params (training)": cs[0]["params_total"],
            "s / epoch": sum(c["s_per_epoch"] for c in cs) / len(cs),
            "epochs run": sum(c["epochs"] for c in cs) / len(cs),
            "eval sweep s": sum(c["eval_s"] for c in cs) / len(cs),
        })
    return out
