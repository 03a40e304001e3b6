"""Tidy records -> ``report.md`` (mean ± std tables) and PNG plots.

Aggregation: for each (run name, protocol, condition, metric, training seed) the mask seeds are
averaged first; the table shows mean ± std over training seeds (std = 0 with one seed). A row is
a run ``name`` (records without one, from older files, use ``method``). Records of two different
checkpoints with the same name, seed (and fold) are refused, never averaged together.
Values are stored unrounded; rounding happens only here (x100, 2 decimals).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from robustmsa.errors import DataError
from robustmsa.evaluation.protocols import PROTOCOLS
from robustmsa.fileio import atomic_write, displayable

SUBSET_COLUMNS = ("t", "a", "v", "ta", "tv", "av", "avg_incomplete", "complete")
SUBSET_TITLES = {"avg_incomplete": "Avg.", "complete": "tav"}
PERCENT_METRICS_EXCLUDE = {"MAE", "Corr"}


def row_name(r: dict) -> str:
    """The report row of a record: its run ``name``, else (older files) its ``method``."""
    return r.get("name") or r["method"]


def check_no_merge(records: list[dict]) -> None:
    """Refuse records where two checkpoints share (name, seed, fold): averaging them would mix
    two different models in one number.

    Raises:
        DataError: naming the run, the seed and both checkpoints.
    """
    owner: dict[tuple, str] = {}
    for r in records:
        ck = r.get("checkpoint") or ""
        if not ck:
            continue
        key = (row_name(r), r["seed"], r.get("fold"))
        if owner.setdefault(key, ck) != ck:
            raise DataError(
                f"records of two checkpoints share run name {key[0]!r} and seed {key[1]} "
                f"({owner[key]}, {ck}); they would be averaged as one run — give them different "
                "names (evaluate --name)"
            )


def aggregate(records: list[dict]) -> dict[tuple, tuple[float, float, int]]:
    """(name, protocol, condition, metric) -> (mean, std, n_seeds)."""
    check_no_merge(records)
    per_seed: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        per_seed[(row_name(r), r["protocol"], r["condition"], r["metric"], r["seed"],
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
    return f"{mean * scale:.2f} ± {std * scale:.2f}" if n > 1 else f"{mean * scale:.2f}"


def _methods(records: list[dict]) -> list[str]:
    seen: list[str] = []
    for r in records:
        if row_name(r) not in seen:
            seen.append(row_name(r))
    return seen


def subset_table(agg: dict, methods: list[str], metric: str) -> str:
    head = "| Method | " + " | ".join(SUBSET_TITLES.get(c, c) for c in SUBSET_COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(SUBSET_COLUMNS) + 1)]
    for m in methods:
        cells = [_fmt(agg.get((m, "subsets", c, metric)), metric) for c in SUBSET_COLUMNS]
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
        mu = np.array([s[0] for s in st]) * 100
        sd = np.array([s[1] for s in st]) * 100
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
        mu = [s[0] * 100 if s else np.nan for s in st]
        sd = [s[1] * 100 if s else 0 for s in st]
        ax.bar(np.arange(len(cols)) + i * width, mu, width, yerr=sd, label=m, capsize=2)
    ax.set_xticks(np.arange(len(cols)) + 0.4 - width / 2)
    ax.set_xticklabels([SUBSET_TITLES.get(c, c) for c in cols])
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(f"{metric} per available-modality subset")
    ax.legend(fontsize=7, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    lo = np.nanmin([agg[k][0] for k in agg if k[1] == "subsets" and k[3] == metric] or [0.5])
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
    check_no_merge(records)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "results.json", json.dumps(records, separators=(",", ":")).encode())
    agg = aggregate(records)
    methods = _methods(records)
    protos = [p for p in PROTOCOLS if any(r["protocol"] == p for r in records)]
    datasets = sorted({r["dataset"] for r in records})
    n_seeds = {m: len({r["seed"] for r in records if row_name(r) == m}) for m in methods}
    n_mask = sorted({r["mask_seed"] for r in records})
    md = [f"# {title}", "", preamble, "",
          f"Dataset(s): {', '.join(datasets)}. Metric **{metric}** "
          "(weighted F1 of positive/negative polarity, Has0 convention: truth >= 0 is positive; "
          "for native classes, weighted F1 over classes), ×100.",
          f"Mean ± std over training seeds ({', '.join(f'{m}: {n}' for m, n in n_seeds.items())}); "
          f"each seed first averaged over mask seeds {n_mask}. "
          "Model selection used the validation split only.", ""]
    if "subsets" in protos:
        md += ["## Inter-modality missingness (available modalities)", "",
               "Columns: available modalities (t = text, a = audio, v = vision); "
               "Avg. = mean over the 6 incomplete subsets; tav = complete input.", "",
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
    atomic_write(path, displayable("\n".join(md)).encode())
    return path
