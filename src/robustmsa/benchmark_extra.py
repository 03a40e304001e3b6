"""Report sections for real data with natural missingness, appended to a benchmark report.

`extra_sections` adds, after the tables of `robustmsa.evaluation.report` (which already give
per-target appendices, fold-aware cells and the coverage values):

- **Natural missingness**: per split (per CV fold's test split and the pool under CV), the
  fraction of samples without each modality and of missing steps (`robustmsa.data.natural`);
- **Subsets without an untrained modality**: when no training sample has a modality (ICT-MMMO's
  text), the subsets without it and their mean (the conditions the models could learn);
- **Coverage**: per evaluated condition, what it simulates and the fraction of test samples
  that really have every modality it asks for (the ``coverage`` records; natural + simulated);
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
from robustmsa.evaluation.report import metric_info as mi
from robustmsa.fileio import atomic_write


def _unit_means(records: list[dict]) -> dict[tuple, list[float]]:
    """(name, protocol, condition, metric) -> one value per (seed, fold) unit (mask seeds
    averaged), as the main report computes its cells."""
    per: dict[tuple, list[float]] = {}
    for r in records:
        key = (r.get("name") or r["method"], r["protocol"], r["condition"], r["metric"],
               r["seed"], r.get("fold"))
        per.setdefault(key, []).append(r["value"])
    out: dict[tuple, list[float]] = {}
    for (n, p, c, m, _s, _f), vals in per.items():
        out.setdefault((n, p, c, m), []).append(float(np.mean(vals)))
    return out


def _cell(vals: list[float] | None, metric: str) -> str:
    """mean ± sample sd (ddof = 1) in the report's scale and digits; "—" when absent."""
    if not vals:
        return "—"
    sc, d = mi.scale(metric), mi.digits(metric)
    mean = float(np.mean(vals)) * sc
    if len(vals) < 2:
        return f"{mean:.{d}f}"
    return f"{mean:.{d}f} ± {float(np.std(vals, ddof=1)) * sc:.{d}f}"


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


def _requested(cond: str, modalities: tuple[str, ...]) -> tuple[str, ...]:
    from robustmsa.missing import parse_subset

    try:
        return tuple(m for m in parse_subset(cond) if m in modalities)
    except ValueError:
        return modalities if cond != "text_substitute" else tuple(m for m in modalities
                                                                    if m != "text")


def coverage_section(records: list[dict], modalities: tuple[str, ...],
                     natural: dict[str, dict[str, float]] | None = None) -> list[str]:
    """Markdown lines: condition -> simulated missingness, natural absence of what it asks for
    (test samples; ``natural`` = `split_missing` of the test split) and coverage."""
    by: dict[str, list[float]] = {}
    for r in records:
        if r["metric"] == "coverage":
            by.setdefault(r["condition"], []).append(r["value"])
    if not by:
        return []
    md = ["## Natural and simulated missingness per condition", "",
          "Natural = share of the evaluated split's samples lacking each modality the "
          "condition asks for; coverage = share of its samples that actually have every modality the "
          "condition asks for, natural and simulated missingness together (a subset condition "
          "asking for a modality a sample lacks evaluates that sample as it really is, with "
          "what it has; coverage says how many samples truly match the condition). Identical "
          "for every method (same masks).", "",
          "| Condition | Simulated | Natural: absent | Coverage |", "|---|---|---|---|"]
    for c, vals in by.items():
        nat = "—" if not natural else ", ".join(
            f"{m} {100 * natural[m]['absent']:.1f} %" for m in _requested(c, modalities)
            if m in natural)
        md.append(f"| {c} | {_simulated(c, modalities)} | {nat} | "
                  f"{100 * float(np.mean(vals)):.1f} % |")
    return md + [""]


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


def untrained_section(records: list[dict], ds: MSADataset, methods: list[str],
                      metric: str) -> list[str]:
    """When no training sample has some modality (ICT-MMMO's text), the subsets without it and
    their mean: the conditions the models could learn (the others feed a never-trained encoder)."""
    from robustmsa.data.natural import absent_modalities
    from robustmsa.missing import all_subsets, subset_name

    if "train" not in ds.splits:
        return []
    absent = absent_modalities(ds["train"])
    if not absent:
        return []
    kept = tuple(m for m in ds.info.modalities if m not in absent)
    conds = [subset_name(s) for s in all_subsets(kept)]
    sub = [r for r in records if r["protocol"] == "subsets" and r["metric"] == metric
           and r["condition"] in conds]
    by: dict[tuple, dict[str, float]] = {}
    for r in sub:  # per (run, seed, fold, mask seed): the mean over the learnable subsets
        key = (r.get("name") or r["method"], r["seed"], r.get("fold"), r["mask_seed"])
        by.setdefault(key, {})[r["condition"]] = r["value"]
    means = [{"name": k[0], "method": k[0], "seed": k[1], "fold": k[2], "mask_seed": k[3],
              "protocol": "x", "condition": "mean", "metric": metric,
              "value": float(np.mean(list(v.values())))} for k, v in by.items()
             if len(v) == len(conds)]
    agg = _unit_means(sub + means)
    md = [f"## Subsets without {', '.join(absent)} (absent from every training sample)", "",
          f"No training sample has {', '.join(absent)}, so only these conditions test what the "
          "models learned; the subset columns with it show what a never-trained encoder does. "
          f"{mi.title(metric)}, mean ± sample sd over (seed, fold) runs.", "",
          "| Method | " + " | ".join(conds) + " | mean |", "|" + "---|" * (len(conds) + 2)]
    for m in methods:
        cells = [_cell(agg.get((m, "subsets", c, metric)), metric) for c in conds]
        cells.append(_cell(agg.get((m, "x", "mean", metric)), metric))
        md.append(f"| {m} | " + " | ".join(cells) + " |")
    return md + [""]


def headline_metric(records: list[dict]) -> str:
    """The first headline metric of the task found in the records (`metric_info.headline`)."""
    heads = mi.headline({r["metric"] for r in records})
    return heads[0] if heads else "F1"


def extra_sections(report: Path, records: list[dict], datasets: list[MSADataset], bc,
                   split: str = "test") -> Path:
    """Append the natural-missingness, coverage, per-target and floor sections to ``report``
    (``split``: the evaluated split, whose natural rates the coverage table shows)."""
    methods = list(dict.fromkeys(r.get("name") or r["method"] for r in records))
    mods = datasets[0].info.modalities if datasets else ()
    natural = None
    if datasets and split in datasets[0].splits:
        natural = split_missing(datasets[0][split]) if not datasets[0].info.cv else \
            split_missing(concat_splits([d[split] for d in datasets]))
    metric = getattr(bc, "metric", None) or headline_metric(records)
    md = (natural_section(datasets)
          + (untrained_section(records, datasets[0], methods, metric) if datasets else [])
          + coverage_section(records, mods, natural)
          + floors_section(getattr(bc, "floors", {}) or {}, records, methods))
    if md:
        text = report.read_text() + "\n" + "\n".join(md)
        atomic_write(report, text.encode())
    return report
