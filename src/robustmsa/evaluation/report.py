"""Tidy records -> ``report.md`` (mean ± std tables) and PNG plots.

Aggregation: for each (method, protocol, condition, metric, training seed, CV fold) the mask
seeds are averaged first; the table shows mean ± std over training seeds × CV folds (records
without ``fold``: over seeds; std = 0 with one unit).
Values are stored unrounded; rounding happens only here (x100, 2 decimals).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from robustmsa.evaluation.protocols import PROTOCOLS
from robustmsa.fileio import atomic_write

SUBSET_COLUMNS = ("t", "a", "v", "ta", "tv", "av", "avg_incomplete", "complete")
SUBSET_TITLES = {"avg_incomplete": "Avg.", "complete": "tav"}
PERCENT_METRICS_EXCLUDE = {"MAE", "Corr"}


def aggregate(records: list[dict]) -> dict[tuple, tuple[float, float, int]]:
    """(method, protocol, condition, metric) -> (mean, std, n_units); a unit is a training
    seed, or a (seed, fold) pair for cross-validated records."""
    per_seed: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        per_seed[(r["method"], r["protocol"], r["condition"], r["metric"], r["seed"],
                  r.get("fold"))].append(r["value"])
    by: dict[tuple, list[float]] = defaultdict(list)
    for (m, p, c, k, _s, _f), vals in per_seed.items():
        by[(m, p, c, k)].append(float(np.mean(vals)))
    return {k: (float(np.mean(v)), float(np.std(v)), len(v)) for k, v in by.items()}


def _fmt(stat: tuple[float, float, int] | None, metric: str) -> str:
    if stat is None:
        return "—"
    mean, std, n = stat
    scale = 1.0 if metric in PERCENT_METRICS_EXCLUDE else 100.0
    d = 2 if scale == 100.0 else 3  # MAE / Corr: 3 decimals
    return f"{mean * scale:.{d}f} ± {std * scale:.{d}f}" if n > 1 else f"{mean * scale:.{d}f}"


def _methods(records: list[dict]) -> list[str]:
    seen: list[str] = []
    for r in records:
        if r["method"] not in seen:
            seen.append(r["method"])
    return seen


def subset_table(agg: dict, methods: list[str], metric: str) -> str:
    # only the subsets the data has (a bimodal dataset has no t / ta / tv columns)
    cols = [c for c in SUBSET_COLUMNS if any((m, "subsets", c, metric) in agg for m in methods)]
    cols = cols or list(SUBSET_COLUMNS)
    full = all(c in cols for c in ("t", "a", "v"))
    titles = [SUBSET_TITLES.get(c, c) if full or c != "complete" else "complete" for c in cols]
    head = "| Method | " + " | ".join(titles) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for m in methods:
        cells = [_fmt(agg.get((m, "subsets", c, metric)), metric) for c in cols]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_table(agg: dict, methods: list[str], protocol: str, metric: str) -> str:
    proto = PROTOCOLS[protocol]
    cols = list(proto.conditions) + ([proto.summary] if proto.summary else [])
    titles = [c.split(":")[1] if ":" in c else c.upper() for c in cols]
    lines = ["| Method | " + " | ".join(titles) + " |", "|" + "---|" * (len(cols) + 1)]
    for m in methods:
        cells = [_fmt(agg.get((m, protocol, c, metric)), metric) for c in cols]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(agg: dict, methods: list[str], protocol: str, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    proto = PROTOCOLS[protocol]
    xs = [proto.rate(c) for c in proto.conditions]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for m in methods:
        st = [agg.get((m, protocol, c, metric)) for c in proto.conditions]
        if any(s is None for s in st):
            continue
        scale = 1.0 if metric in PERCENT_METRICS_EXCLUDE else 100.0
        mu = np.array([s[0] for s in st]) * scale
        sd = np.array([s[1] for s in st]) * scale
        ax.plot(xs, mu, marker="o", ms=3, label=m)
        ax.fill_between(xs, mu - sd, mu + sd, alpha=0.15)
    ax.set_xlabel(f"{protocol} rate")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(f"{metric} vs {protocol} rate (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_subsets(agg: dict, methods: list[str], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = list(SUBSET_COLUMNS)
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    for i, m in enumerate(methods):
        st = [agg.get((m, "subsets", c, metric)) for c in cols]
        scale = 1.0 if metric in PERCENT_METRICS_EXCLUDE else 100.0
        mu = [s[0] * scale if s else np.nan for s in st]
        sd = [s[1] * scale if s else 0 for s in st]
        ax.bar(np.arange(len(cols)) + i * width, mu, width, yerr=sd, label=m, capsize=2)
    ax.set_xticks(np.arange(len(cols)) + 0.4 - width / 2)
    ax.set_xticklabels([SUBSET_TITLES.get(c, c) for c in cols])
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(f"{metric} per available-modality subset")
    ax.legend(fontsize=7, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    lo = np.nanmin([agg[k][0] for k in agg if k[1] == "subsets" and k[3] == metric] or [0.5])
    if metric not in PERCENT_METRICS_EXCLUDE:
        ax.set_ylim(max(0, lo * 100 - 10), None)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(
    records: list[dict],
    out_dir: str | os.PathLike,
    *,
    metric: str = "F1",
    title: str = "robustmsa evaluation report",
    preamble: str = "",
    costs: list[dict] | None = None,
) -> Path:
    """Write ``results.json``, ``report.md`` and plots into ``out_dir``; returns report path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "results.json", json.dumps(records, separators=(",", ":")).encode())
    agg = aggregate(records)
    methods = _methods(records)
    protos = [p for p in PROTOCOLS if any(r["protocol"] == p for r in records)]
    datasets = sorted({r["dataset"] for r in records})
    n_seeds = {m: len({r["seed"] for r in records if r["method"] == m}) for m in methods}
    n_mask = sorted({r["mask_seed"] for r in records})
    what = ("(weighted F1 of positive/negative polarity, Has0 convention: truth >= 0 is "
            "positive; for native classes, weighted F1 over classes), ×100" if metric == "F1"
            else "(mean over targets for multi-target regression)" if metric in ("MAE", "Corr")
            else "×100")
    folds = sorted({r["fold"] for r in records if r.get("fold") is not None})
    md = [f"# {title}", "", preamble, "",
          f"Dataset(s): {', '.join(datasets)}. Metric **{metric}** {what}.",
          f"Mean ± std over training seeds ({', '.join(f'{m}: {n}' for m, n in n_seeds.items())}); "
          + (f"× CV folds {folds} (± over every (seed, fold) run); " if folds else "")
          + f"each run first averaged over mask seeds {n_mask}. "
          "Model selection used the validation split only.", ""]
    if "subsets" in protos:
        md += ["## Inter-modality missingness (available modalities)", "",
               "Columns: available modalities (t = text, a = audio, v = vision); "
               "Avg. = mean over the incomplete subsets of the data's modalities; tav = "
               "complete input.", "",
               subset_table(agg, methods, metric), "", "![subsets](subsets.png)", ""]
        plot_subsets(agg, methods, metric, out / "subsets.png")
    for p in protos:
        if p == "subsets":
            continue
        if PROTOCOLS[p].summary in ("auc", "mean"):
            md += [f"## Protocol `{p}`", "", f"Conditions: {', '.join(PROTOCOLS[p].conditions)}.",
                   "", curve_table(agg, methods, p, metric), ""]
            if PROTOCOLS[p].summary == "auc":
                plot_curves(agg, methods, p, metric, out / f"{p}.png")
                md += [f"![{p}]({p}.png)", ""]
    custom = [r for r in records if r["protocol"] == "custom" or r["protocol"] == "text_substitute"]
    if custom:
        conds = sorted({r["condition"] for r in custom})
        md += ["## Other conditions", "", "| Method | " + " | ".join(conds) + " |",
               "|" + "---|" * (len(conds) + 1)]
        for m in methods:
            cells = []
            for c in conds:
                st = next((agg.get((m, pp, c, metric)) for pp in ("custom", "text_substitute")
                           if (m, pp, c, metric) in agg), None)
                cells.append(_fmt(st, metric))
            md.append(f"| {m} | " + " | ".join(cells) + " |")
        md.append("")
    if costs:
        keys = list(costs[0].keys())
        md += ["## Cost (2 CPU cores unless stated)", "", "| " + " | ".join(keys) + " |",
               "|" + "---|" * len(keys)]
        for c in costs:
            md.append("| " + " | ".join(
                f"{v:.3g}" if isinstance(v, float) else str(v) for v in c.values()) + " |")
        md.append("")
    path = out / "report.md"
    atomic_write(path, "\n".join(md).encode())
    return path
