"""``robustmsa benchmark``: train several methods over several seeds, evaluate all of them on
identical masks, and write one comparison report.

Structure (each phase is one function, so a new grid dimension or per-run measurement is an
isolated change):

1. `plan_runs` — the grid: one `RunTask` per (run, seed) cell, with its resolved config, run
   directory and dependencies (frozen-teacher methods need the ``teacher`` task of their
   seed). Grid dimensions are `grid_cells`: seeds, and cross-validation folds
   (``base.data.cv_folds=K``; a fold is a different ``data`` config,
   `robustmsa.data.cv.benchmark_folds`, carved from data read once; run directories become
   ``RUN/foldF/seedS``, each fold has its own teacher and mask cache, records carry ``fold``).
2. `run_trainings` — trains every task not finished yet, sequentially, in ``workers`` local
   processes, or as Ray tasks (`robustmsa.engine.grid`); a task starts when its
   dependencies are done; a live "k of N runs done" line; each run logs to ``train.log`` in
   its directory. A finished run (``summary.json`` written with the same config) is reused,
   so an interrupted benchmark resumes where it stopped, whatever the executor.
3. `evaluate_runs` — every run's ``best.pt`` on identical masks, in this process, in grid
   order (so ``results.json`` is the same whichever executor trained the runs), plus one cost
   row per run (`run_costs`).
4. the report (`robustmsa.evaluation.report.write_report`).

Trainings are independent processes' work: each uses ``train.threads`` torch threads (default
1), so N workers on N cores do not oversubscribe them. Training gets the raw data (the trainer
standardises with its training split); each checkpoint is evaluated on the raw data prepared
for it (`robustmsa.data.prepare.prepare_for_checkpoint`), records named by the run. An
unfinished or stale run is trained again (``overwrite``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
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
from robustmsa.errors import ConfigError
from robustmsa.evaluation.api import evaluate_method, run_label
from robustmsa.evaluation.costs import measure_run_costs, merge_costs
from robustmsa.evaluation.evaluator import MaskCache
from robustmsa.evaluation.report import balance_entries, write_report
from robustmsa.fileio import atomic_write
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


@dataclass
class RunTask:
    """One training of the grid: a (run, seed[, more dimensions]) cell.

    Attributes:
        key: unique id, the run directory relative to ``out_dir`` (``teacher/seed0``).
        run: the `RunSpec` (report row).
        cell: the grid coordinates (``{"seed": 0}``; other dimensions add keys).
        config: the resolved experiment config of this training.
        run_dir: where it trains (``out_dir/key``); must be on a path every worker sees.
        deps: keys of the tasks that must have finished first (the seed's teacher).
    """

    key: str
    run: RunSpec
    cell: dict[str, Any]
    config: ExperimentConfig
    run_dir: Path
    deps: tuple[str, ...] = ()

    @property
    def label(self) -> dict[str, Any]:
        """The fields every result record of this run carries."""
        return {"method": self.run.name, **self.cell}


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


# -- 1. the grid ---------------------------------------------------------------------------
def grid_cells(bc: BenchmarkConfig) -> Iterator[dict[str, Any]]:
    """The grid coordinates besides the run: one dict per cell, in execution order (folds,
    when cross-validating, then seeds)."""
    for fold, _ in benchmark_folds(bc.base, bc.folds):  # [(None, base)] without CV
        for seed in bc.seeds:
            yield {"seed": seed} if fold is None else {"fold": fold, "seed": seed}


def _fold_base(bc: BenchmarkConfig, fold: int | None) -> dict:
    return dict(benchmark_folds(bc.base, bc.folds))[fold]


def fold_datasets(bc: BenchmarkConfig, data: MSADataset | None = None) -> dict[int | None, MSADataset]:
    """fold (None without CV) -> its dataset, carved from ``data`` (or the base config's
    source, read once)."""
    out: dict[int | None, MSADataset] = {}
    source = data
    for fold, fold_base in benchmark_folds(bc.base, bc.folds):
        base = dataclass_from_dict(ExperimentConfig, fold_base, "base")
        if source is None:
            source = load_data(base.data.source, seed=base.data.seed)  # raw, read once
        out[fold] = fold_for(source, cv_spec(base.data), who="benchmark base.data")
    return out


def cell_config(bc: BenchmarkConfig, run: RunSpec, cell: dict[str, Any],
                teacher: str) -> ExperimentConfig:
    """The experiment config of ``run`` in ``cell`` (a new grid dimension maps its
    coordinate onto the config here)."""
    return _experiment(bc, run, cell["seed"], teacher, _fold_base(bc, cell.get("fold")))


def _cell_dir(cell: dict[str, Any]) -> str:
    return "/".join(f"{k}{v}" for k, v in cell.items())


def plan_runs(bc: BenchmarkConfig) -> list[RunTask]:
    """Every training of the benchmark, teachers of a cell before the runs distilled from them."""
    out = Path(bc.out_dir)
    frozen = {r.name for r in bc.runs if method_class(r.method).teacher_mode == "frozen"}
    teacher_run = next((r for r in bc.runs if r.method == "teacher"), None)
    if frozen and teacher_run is None:
        raise ConfigError("frozen-teacher methods need a run with method: teacher")
    order = sorted(bc.runs, key=lambda r: r.name in frozen)  # stable: teachers first
    tasks = []
    for cell in grid_cells(bc):
        sub = _cell_dir(cell)
        teacher_key = f"{teacher_run.name}/{sub}" if teacher_run else ""
        for run in order:
            key = f"{run.name}/{sub}"
            teacher_ckpt = str(out / teacher_key / "best.pt") if teacher_run else ""
            cfg = cell_config(bc, run, cell, teacher_ckpt)
            deps = (teacher_key,) if run.name in frozen else ()
            tasks.append(RunTask(key, run, dict(cell), cfg, out / key, deps))
    return tasks


def is_done(task: RunTask) -> bool:
    """Whether ``task`` finished earlier with the same config (its run is reused)."""
    d = task.run_dir
    try:
        return (d / "summary.json").exists() and (d / "config.yaml").exists() and \
            yaml.safe_load((d / "config.yaml").read_text()) == to_dict(task.config)
    except (OSError, yaml.YAMLError):
        return False


# -- 2. trainings --------------------------------------------------------------------------
def train_task(task: RunTask, data: MSADataset | dict[int | None, MSADataset]) -> dict[str, Any]:
    """Train one task (unless finished) with its log in ``run_dir/train.log``; returns its
    ``summary.json`` plus ``train_wall_s`` and ``reused``. Runs in whichever process the
    executor chose."""
    from robustmsa.engine.trainer import Trainer

    if isinstance(data, dict):  # fold -> dataset
        data = data[task.cell.get("fold")]
    t0 = time.perf_counter()
    reused = is_done(task)
    if not reused:
        task.run_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(task.run_dir / "train.log", mode="w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger("robustmsa")
        root.addHandler(handler)
        level = root.level
        if root.getEffectiveLevel() > logging.INFO:
            root.setLevel(logging.INFO)
        try:
            Trainer(task.config, data, task.run_dir).fit(overwrite=True)  # unfinished / stale
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
            handler.close()
    summary = json.loads((task.run_dir / "summary.json").read_text())
    return summary | {"train_wall_s": time.perf_counter() - t0, "reused": reused}


def run_trainings(tasks: list[RunTask], data: MSADataset | dict[int | None, MSADataset], *,
                  workers: int = 1,
                  ray_address: str | None = None, progress: bool = True) -> dict[str, dict]:
    """Train every task (dependencies first) with the chosen executor; key -> summary."""
    from robustmsa.engine import grid

    if ray_address is not None:
        executor: grid.Executor = grid.RayExecutor(ray_address, data, workers)
    elif workers > 1:
        executor = grid.ProcessExecutor(workers, data)
    else:
        executor = grid.InlineExecutor(data)
    return grid.run_graph(tasks, executor, progress=progress)


# -- 3. evaluation -------------------------------------------------------------------------
def run_costs(task: RunTask, summary: dict[str, Any], eval_s: float) -> dict[str, Any]:
    """The cost row of one run (``costs.json``)."""
    return {**task.label, "params_total": summary["num_parameters"],
            "params_deployed": summary["num_deployable_parameters"],
            "epochs": summary["epochs_run"], "best_epoch": summary["best_epoch"],
            "s_per_epoch": summary["seconds_per_epoch"], "eval_s": eval_s,
            "train_wall_s": summary.get("train_wall_s", 0.0),
            "wall_s": summary.get("train_wall_s", 0.0) + eval_s,
            "reused": summary.get("reused", False)}


def evaluate_run(task: RunTask, data: MSADataset, bc: BenchmarkConfig,
                 cache: MaskCache) -> tuple[list[dict], float]:
    """Records of one trained run on the benchmark's protocols; (records, seconds)."""
    path = task.run_dir / "best.pt"
    method, ck = load_method(path)
    label = run_label(ck, path, task.run.name)  # carries fold under CV
    return evaluate_method(  # raw data, prepared for ck (one data path)
        method, data, protocols=bc.protocols, conditions=bc.conditions,
        mask_seeds=bc.mask_seeds, label=label, cache=cache, checkpoint=ck)


@dataclass
class Evaluation:
    """What the evaluation phase collects for the report."""

    records: list[dict] = field(default_factory=list)
    costs: list[dict] = field(default_factory=list)  # one row per run (costs.json)
    balance: list[dict] = field(default_factory=list)  # loss balance of every run's summary
    profiles: dict[str, dict] = field(default_factory=dict)  # run name -> measured costs


def evaluate_runs(tasks: list[RunTask], summaries: dict[str, dict],
                  datasets: dict[int | None, MSADataset], bc: BenchmarkConfig) -> Evaluation:
    """Every task's records, cost row and loss balance, in grid order, on shared masks (one
    mask cache per fold: another fold's test split is other samples); the compute cost of
    each run is measured once, on its first cell."""
    ev = Evaluation()
    caches: dict[int | None, MaskCache] = {}
    for task in tasks:
        fold = task.cell.get("fold")
        data = datasets[fold]
        summary = summaries[task.key]
        ev.balance += balance_entries(summary, task.run.name, task.cell["seed"])
        recs, eval_s = evaluate_run(task, data, bc, caches.setdefault(fold, MaskCache()))
        ev.records += recs
        ev.costs.append(run_costs(task, summary, eval_s))
        if task.run.name not in ev.profiles:  # compute cost (robustmsa.evaluation.costs)
            ev.profiles[task.run.name] = measure_run_costs(task.config, task.run_dir, data)
    return ev


def reload_evaluation(tasks: list[RunTask], out: Path) -> Evaluation:
    """What `evaluate_runs` wrote for a finished benchmark in ``out`` (records, cost rows,
    cost profiles) plus the loss balance of every run's ``summary.json``: re-rendering the
    report needs no training and no evaluation."""
    files = {n: out / n for n in ("results.json", "costs.json", "cost_profile.json")}
    for path in [*files.values(), *(t.run_dir / "summary.json" for t in tasks)]:
        if not path.is_file():
            raise ConfigError(f"{path}: missing; --report-only re-renders a finished benchmark "
                              "(run it once without --report-only)")
    ev = Evaluation(records=json.loads(files["results.json"].read_text()),
                    costs=json.loads(files["costs.json"].read_text()),
                    profiles=json.loads(files["cost_profile.json"].read_text()))
    for task in tasks:
        summary = json.loads((task.run_dir / "summary.json").read_text())
        ev.balance += balance_entries(summary, task.run.name, task.cell["seed"])
    return ev


def run_benchmark(bc: BenchmarkConfig, data: MSADataset | None = None, *, workers: int = 1,
                  ray_address: str | None = None, progress: bool = True,
                  report_only: bool = False) -> Path:
    """Train + evaluate every run of every cell; returns the report path.

    Args:
        workers: local processes training independent runs at once (1 = this process).
        ray_address: run the trainings as Ray tasks on this cluster (``"local"`` starts one
            with ``workers`` CPUs); ``out_dir`` must be on storage every node sees.
        report_only: re-render the report of a finished benchmark from its ``results.json``,
            cost files and run summaries (`reload_evaluation`): no training, no evaluation.
    """
    out = Path(bc.out_dir)
    datasets = fold_datasets(bc, data)
    tasks = plan_runs(bc)
    if report_only:
        ev = reload_evaluation(tasks, out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "benchmark.yaml",
                     yaml.safe_dump(to_dict(bc), sort_keys=False).encode())
        summaries = run_trainings(tasks, datasets, workers=workers, ray_address=ray_address,
                                  progress=progress)
        ev = evaluate_runs(tasks, summaries, datasets, bc)
        atomic_write(out / "cost_profile.json", json.dumps(ev.profiles, indent=1).encode())
        atomic_write(out / "costs.json", json.dumps(ev.costs, indent=1).encode())
    dsets = list(datasets.values())
    cv = bool(dsets[0].info.cv)
    folds = [d.info.cv["fold"] for d in dsets] if cv else None
    write_benchmark_balance(out, [r.name for r in bc.runs], bc.seeds, folds=folds)  # loss_balance.md / .json
    base = dataclass_from_dict(ExperimentConfig, bc.base, "base")
    report = write_report(ev.records, out, title=bc.title,
                          costs=merge_costs(_average_costs(ev.costs), ev.profiles),
                          metric=bc.metric or None,
                          preamble=f"Config: `{out / 'benchmark.yaml'}`. Seeds: {bc.seeds}."
                          + (f" CV folds: {folds}." if cv else "")
                          + " Loss balance with the acting / inert verdict per distinctive term: "
                          "`loss_balance.md`.",
                          data=dsets if cv else dsets[0],
                          task=Task.build(base.task.kind, dsets[0].info), balance=ev.balance,
                          compare_to={r.name: r.compare_to for r in bc.runs if r.compare_to})
    return extra_sections(report, ev.records, dsets, bc)


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
