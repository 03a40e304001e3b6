"""Report sections for real data with natural missingness, appended to a benchmark report.

`extra_sections` adds, after the standard tables of `robustmsa.evaluation.report`:

- **Natural missingness**: per split (per CV fold's test split and the pool under CV), the
  fraction of samples without each modality and of missing steps (`robustmsa.data.natural`);
- **Coverage**: per evaluated condition, what it simulates and the fraction of test samples
  that really have every modality it asks for (the ``coverage`` records; natural + simulated);
- **Per-target metrics** for multi-target regression (``MAE_<target>`` / ``Corr_<target>``
  on complete input) and the other regression metric's subset table;
- **Floors**: reference points (e.g. the linear baselines of `benchmarks/mfn_linear_reference.py`)
  read from the JSON file named by the benchmark config's ``floors``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from robustmsa.data.cv import concat_splits
from robustmsa.data.natural import format_missing_table, natural_missing, split_missing
from robustmsa.data.schema import MSADataset
from robustmsa.evaluation.report import aggregate, subset_table
from robustmsa.fileio import atomic_write


def _simulated(cond: str, modalities: tuple[str, ...]) -> str:
    from robustmsa.missing import parse_subset

    if cond == "complete":
        return "nothing removed"
    head, _, rest = cond.partition(":")
    if head == "frame":
        return f"each real frame dropped with p = {rest.split(':')[0]}"
    if head in ("block", "eta", "mdrop", "lnln"):
        return f"`{cond}` (see README)"
    try:
        keep = parse_subset(cond)
    except ValueError:
        return f"`{cond}`"
    gone = [m for m in modalities if m not in keep]
    return "removed: " + (", ".join(gone) if gone else "none")


def natural_section(datasets: list[MSADataset]) -> list[str]:
    """Markdown lines: natural missingness table(s)."""
    if not datasets:
        return []
    first = datasets[0]
    md = ["## Natural missingness (before any simulated condition)", "",
          "Absent = samples whose whole sequence is zero (or no file for the split); missing "
          "steps = all-zero steps among the steps of the samples that have the modality. "
          "Simulated conditions act on top of this and never restore it.", ""]
    if not first.info.cv:
        md += [format_missing_table(natural_missing(first)), ""]
        return md
    pool = concat_splits([first[s] for s in first.splits])
    rates = {"pool (all folds)": split_missing(pool)}
    for ds in datasets:
        rates[f"fold {ds.info.cv['fold']} test"] = split_missing(ds["test"])
    md += [f"Cross-validation over {'+'.join(first.info.cv['pool'])}: "
           f"{first.info.cv['folds']} folds (fold i: test = fold i, valid = fold i+1 mod K).",
           "", format_missing_table(rates), ""]
    return md


def coverage_section(records: list[dict], modalities: tuple[str, ...]) -> list[str]:
    """Markdown lines: condition -> simulated missingness and coverage (mean over runs)."""
    by: dict[str, list[float]] = {}
    for r in records:
        if r["metric"] == "coverage":
            by.setdefault(r["condition"], []).append(r["value"])
    if not by:
        return []
    md = ["## Coverage: what each condition really leaves", "",
          "Coverage = fraction of test samples that actually have every modality the "
          "condition asks for, natural and simulated missingness together (a subset condition "
          "asking for a modality a sample lacks evaluates that sample as it really is, with "
          "what it has; coverage says how many samples truly match the condition). Identical "
          "for every method (same masks).", "",
          "| Condition | Simulated | Coverage |", "|---|---|---|"]
    for c, vals in by.items():
        md.append(f"| {c} | {_simulated(c, modalities)} | {100 * float(np.mean(vals)):.1f} % |")
    return md + [""]


def target_section(records: list[dict], methods: list[str], headline: str) -> list[str]:
    """Markdown lines: per-target MAE / Corr on complete input, and the other metric's subsets."""
    targets = sorted({r["metric"][4:] for r in records if r["metric"].startswith("MAE_")})
    if not targets:
        return []
    agg = aggregate(records)
    md = []
    other = "MAE" if headline != "MAE" else "Corr"
    if any(r["protocol"] == "subsets" for r in records):
        md += [f"## Subsets, {other} (mean over targets)", "",
               subset_table(agg, methods, other), ""]
    for metric in ("MAE", "Corr"):
        md += [f"## {metric} per target, complete input (mean over runs)", "",
               "Column meanings are undocumented in the release; targets are named by "
               "position.", "",
               "| Method | " + " | ".join(targets) + " | mean |",
               "|" + "---|" * (len(targets) + 2)]
        for m in methods:
            cells = []
            for t in targets + [""]:
                st = agg.get((m, "subsets", "complete", f"{metric}_{t}" if t else metric))
                cells.append("—" if st is None else f"{st[0]:.3f}")
            md.append(f"| {m} | " + " | ".join(cells) + " |")
        md.append("")
    return md


def floors_section(spec: dict, records: list[dict], methods: list[str]) -> list[str]:
    """Markdown lines: reference points from ``spec["file"]`` rows matching ``dataset`` /
    ``setting``."""
    if not spec:
        return []
    path = Path(spec["file"])
    if not path.is_file():
        return ["## Floors", "", f"(reference file `{path}` not found: run "
                "`benchmarks/mfn_linear_reference.py` first)", ""]
    rows = [r for r in json.loads(path.read_text())
            if r["dataset"] == spec.get("dataset") and r["setting"] == spec.get("setting")]
    if not rows:
        return []
    keys = [k for k in ("Acc", "F1", "MAE", "Corr") if any(k in r["metrics"] for r in rows)]
    md = ["## Floors: linear reference points", "",
          f"`{path}` (setting `{spec.get('setting')}`), made by "
          "`OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mfn_linear_reference.py`: "
          f"{rows[0].get('model', 'linear model')} on standardised per-sample means over "
          "non-zero steps (Acc / F1 ×100); the README's number in brackets. A method below its floor for the "
          "same modalities learns less than a linear model on averaged features.", "",
          "| Modalities | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
    for r in rows:
        cells = []
        for k in keys:
            v = r["metrics"].get(k)
            ref = (r.get("readme") or {}).get(k)
            sc, d = (100.0, 2) if k in ("Acc", "F1") else (1.0, 3)  # as in the tables above
            cells.append("—" if v is None else f"{v * sc:.{d}f}"
                         + (f" ({ref * sc:.{d}f})" if ref is not None else ""))
        md.append(f"| {r['modalities']} | " + " | ".join(cells) + " |")
    return md + [""]


def extra_sections(report: Path, records: list[dict], datasets: list[MSADataset], bc) -> Path:
    """Append the natural-missingness, coverage, per-target and floor sections to ``report``."""
    methods: list[str] = []
    for r in records:
        if r["method"] not in methods:
            methods.append(r["method"])
    mods = datasets[0].info.modalities if datasets else ()
    md = (natural_section(datasets) + coverage_section(records, mods)
          + target_section(records, methods, getattr(bc, "metric", "F1"))
          + floors_section(getattr(bc, "floors", {}) or {}, records, methods))
    if md:
        text = report.read_text() + "\n" + "\n".join(md)
        atomic_write(report, text.encode())
    return report
