"""Tidy records -> ``report.md`` + ``tables/*.csv|.tex`` + figures (PNG 200 dpi and PDF).

Conventions (each one is stated in the report itself):

- Rows are run labels (``name``, fallback ``method``) per dataset and ``missing_input``; rows
  with different ``missing_input`` are never averaged together. With ``fold`` in the records,
  every (seed, fold) pair is one unit and cells average folds × seeds.
- A cell is the mean ± **sample** sd (ddof = 1) over units, with n printed; each unit is first
  averaged over mask seeds only for conditions whose mask is random (`collect`).
- "Avg." covers the incomplete subsets of the dataset's own modalities, and subset columns are
  restricted to them; AUCs leave out the all-empty end point (frame / block drop at 1.0), which
  is reported apart next to the majority-class score; a length-1 dataset gets a warning.
- Headline metrics follow the task found in the records (regression: MAE ↓, Corr, Acc-7,
  Acc-2, F1); multi-target metrics ``BASE/TARGET`` get a per-target appendix.
- Every "A beats B" sentence comes from a paired interval over shared seeds that excludes 0
  (`stats.paired_interval`); MultiBench effective robustness vs the teacher is tabulated.
- ``coverage`` records are shown as data facts, never averaged as a score; ``balance`` entries
  give the loss-balance tables; cost dicts are rendered with whatever keys they carry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from robustmsa.evaluation.report.collect import Collection, Row, collect
from robustmsa.evaluation.report.inputs import balance_entries, dataset_infos, majority_scores
from robustmsa.evaluation.report.render import Builder
from robustmsa.evaluation.report.sections import balance as balance_section
from robustmsa.evaluation.report.sections import costs as cost_section
from robustmsa.evaluation.report.stats import Paired, Stat, paired_interval, summarize
from robustmsa.fileio import atomic_write

__all__ = ["Collection", "Paired", "Row", "Stat", "balance_entries", "collect",
           "majority_scores", "paired_interval", "summarize", "write_report"]


def write_report(
    records: list[dict],
    out_dir: str | os.PathLike,
    *,
    metric: str | None = None,
    title: str = "robustmsa evaluation report",
    preamble: str = "",
    costs: list[dict] | None = None,
    data=None,
    task=None,
    chance: dict[str, dict[str, float]] | None = None,
    balance: list[dict] | None = None,
    compare_to: dict[str, str | list[str]] | None = None,
    interval: str = "t",
    bootstrap_seed: int = 0,
    split: str = "test",
) -> Path:
    """Write ``results.json``, ``report.md``, ``tables/`` and figures; returns the report path.

    Args:
        records: tidy result records (CONTRACTS.md, contract 1).
        out_dir: output folder (created).
        metric: primary metric (default: the task's first headline metric, e.g. F1 or MAE).
        title, preamble: report heading and a free-text paragraph under it.
        costs: one dict per row label; every key becomes a column.
        data: the evaluated `MSADataset` (or its `DatasetInfo`, or a list of them): modalities
            and sequence lengths, and with ``task`` the majority-class score.
        task: the `robustmsa.tasks.Task` of the runs (for the majority-class score).
        chance: dataset -> metric -> majority-class score, instead of ``data`` + ``task``.
        balance: loss-balance entries ``{"name", "seed", "phase", "term", "value",
            "grad_norm", "share"}`` (`balance_entries` reads them from a ``summary.json``).
        compare_to: row name -> the row(s) it is paired against as its parent (default: the
            row named after its registry method, else the longest name prefix).
        interval: paired interval, ``"t"`` (Student t) or ``"bootstrap"`` (seeded).
        bootstrap_seed: generator seed of the bootstrap.
        split: the evaluated split (the majority-class score is computed on it).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "results.json", json.dumps(records, separators=(",", ":")).encode())
    infos = dataset_infos(data)
    chance = dict(chance or {})
    if task is not None and data is not None and hasattr(data, "splits"):
        if data.info.name not in chance and "train" in data.splits and split in data.splits:
            chance[data.info.name] = majority_scores(data, task, split)
    col = collect(records, {name: info.modalities for name, info in infos.items()})
    b = Builder(col, out, infos, chance, metric,
                {k: [v] if isinstance(v, str) else list(v) for k, v in (compare_to or {}).items()},
                interval, bootstrap_seed, multi_dataset=len(col.datasets) > 1)
    b.md += [f"# {title}", ""] + ([preamble, ""] if preamble else [])
    b.md += [f"Dataset(s): {', '.join(f'`{d}`' for d in col.datasets)}. Tables are also in "
             "`tables/` as CSV (unrounded) and booktabs LaTeX; figures as PNG and PDF.", ""]
    b.conventions()
    for ds in col.datasets:
        b.dataset(ds)
    if balance:
        balance_section(b, balance)
    if costs:
        cost_section(b, costs)
    path = out / "report.md"
    atomic_write(path, "\n".join(b.md).encode())
    return path
