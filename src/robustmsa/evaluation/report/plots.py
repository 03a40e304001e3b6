"""Figures of the report: PNG (200 dpi) and PDF, readable with any number of methods.

Every method gets its own (colour, marker) pair: the 7 Okabe–Ito colours that read on white
(their yellow is left out) × 11 markers (7 and 11 are coprime, so the first 77 methods are all
distinct) and a line style cycling every 7 methods, so nothing depends on colour alone. Points
of different methods at one x are dodged sideways so their error bars do not overlap; error
bars are ± 1 sample sd over training seeds (stated in the caption). The y axis includes the
majority-class line and its lower end is stated in the caption. Legends sit outside the axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robustmsa.fileio import atomic_write

OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*")
LINESTYLES = ("-", "--", "-.", ":")
DPI = 200


def style(i: int) -> dict:
    """Matplotlib style of the i-th method: colour, marker and line style."""
    return {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[(i // len(OKABE_ITO)) % len(LINESTYLES)]}


@dataclass
class Series:
    """One method: means and error half-widths (display units) at each x / category."""

    label: str
    mean: np.ndarray
    err: np.ndarray
    end_mean: float = math.nan  # the all-empty end point, drawn apart
    end_err: float = math.nan


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def y_range(series: list[Series], chance: float | None, percent: bool) -> tuple[float, float]:
    """Axis limits covering every mean ± error, the end points and the chance line."""
    lo_v, hi_v = [], []
    for s in series:
        e = np.nan_to_num(s.err)
        lo_v += list(s.mean - e) + [s.end_mean - np.nan_to_num(s.end_err)]
        hi_v += list(s.mean + e) + [s.end_mean + np.nan_to_num(s.end_err)]
    if chance is not None and math.isfinite(chance):
        lo_v.append(chance)
        hi_v.append(chance)
    finite = [v for v in lo_v + hi_v if math.isfinite(v)]
    if not finite:
        return (0.0, 100.0) if percent else (0.0, 1.0)
    lo, hi = min(v for v in lo_v if math.isfinite(v)), max(v for v in hi_v if math.isfinite(v))
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    lo, hi = lo - pad, hi + pad
    step = 5.0 if percent and hi - lo > 15 else 1.0 if percent else 10 ** math.floor(math.log10(max(hi - lo, 1e-9)))
    lo = math.floor(lo / step) * step
    if percent:
        lo, hi = max(lo, 0.0), min(hi, 100.0)
    return lo, hi


def _finish(fig, ax, path: Path, n: int) -> list[Path]:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False,
              fontsize=7, ncol=1 if n <= 20 else 2, handlelength=2.6)
    out = []
    for ext in ("png", "pdf"):
        p = path.with_suffix(f".{ext}")
        atomic_write(p, lambda fh, ext=ext: fig.savefig(fh, format=ext, dpi=DPI,
                                                         bbox_inches="tight"))
        out.append(p)
    _pyplot().close(fig)
    return out


def _chance(ax, chance: float | None, label: str) -> None:
    if chance is not None and math.isfinite(chance):
        ax.axhline(chance, color="0.45", lw=1.0, ls=(0, (4, 3)), zorder=1, label=label)


def plot_curves(series: list[Series], xs: list[float], end_x: float | None, *, path: Path,
                xlabel: str, ylabel: str, title: str, chance: float | None,
                chance_label: str, percent: bool) -> tuple[list[Path], float]:
    """Metric vs missing rate; the all-empty end point (if any) hollow, apart from the curve.

    Returns (files written, lower end of the y axis).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.6, 4.2))
    k = len(series)
    step = min(np.diff(xs)) if len(xs) > 1 else 0.1
    width = 0.3 * step
    for i, s in enumerate(series):
        st = style(i)
        dx = (i - (k - 1) / 2) * width / max(k - 1, 1)
        ax.errorbar(np.asarray(xs) + dx, s.mean, yerr=np.nan_to_num(s.err), color=st["color"],
                    marker=st["marker"], linestyle=st["linestyle"], lw=1.1, ms=4, elinewidth=0.7,
                    capsize=0, label=s.label, zorder=3)
        if end_x is not None and math.isfinite(s.end_mean):
            ax.errorbar([end_x + dx], [s.end_mean], yerr=[np.nan_to_num(s.end_err)],
                        color=st["color"], marker=st["marker"], mfc="white", ms=4,
                        elinewidth=0.7, capsize=0, linestyle="none", zorder=3)
    if end_x is not None:
        ax.axvspan(end_x - step / 2, end_x + step / 2, color="0.92", zorder=0)
        ax.text(end_x, 1.0, "all empty\n(not in AUC)", transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=6.5, color="0.3")
    _chance(ax, chance, chance_label)
    lo, hi = y_range(series, chance, percent)
    ax.set_ylim(lo, hi)
    ticks = list(xs) + ([end_x] if end_x is not None else [])
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{x:g}" for x in ticks], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, lw=0.5)
    return _finish(fig, ax, path, k), lo


def plot_points(series: list[Series], categories: list[str], *, path: Path, ylabel: str,
                title: str, chance: float | None, chance_label: str, percent: bool,
                separate_last: int = 0) -> tuple[list[Path], float]:
    """Dot plot (one dodged marker ± error per method per category; no bars, so the y axis
    need not start at 0 to stay honest). ``separate_last`` draws a divider before the last
    columns (Avg., complete). Returns (files written, lower end of the y axis)."""
    plt = _pyplot()
    k = len(series)
    fig, ax = plt.subplots(figsize=(min(10.0, max(6.6, (0.5 + 0.05 * k) * len(categories))), 4.2))
    x0 = np.arange(len(categories), dtype=float)
    for j in range(0, len(categories), 2):
        ax.axvspan(j - 0.5, j + 0.5, color="0.95", zorder=0)
    for i, s in enumerate(series):
        st = style(i)
        dx = -0.4 + (i + 0.5) * 0.8 / k
        ax.errorbar(x0 + dx, s.mean, yerr=np.nan_to_num(s.err), color=st["color"],
                    marker=st["marker"], linestyle="none", ms=4.5, elinewidth=0.8, capsize=0,
                    label=s.label, zorder=3)
    if separate_last:
        ax.axvline(len(categories) - separate_last - 0.5, color="0.4", lw=0.8)
    _chance(ax, chance, chance_label)
    lo, hi = y_range(series, chance, percent)
    ax.set_ylim(lo, hi)
    ax.set_xlim(-0.5, len(categories) - 0.5)
    ax.set_xticks(x0)
    ax.set_xticklabels([c.replace(" (", "\n(") for c in categories])
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3, lw=0.5)
    return _finish(fig, ax, path, k), lo
