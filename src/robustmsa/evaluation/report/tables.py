"""One table, three renderings: Markdown (report.md), CSV and booktabs LaTeX (``tables/``).

A cell is a string, a number, or a `StatCell` (mean ± sample sd over n units, in display
units). CSV cells are unrounded: a `StatCell` column ``C`` becomes ``C``, ``C sd`` and
``C n``, so a spreadsheet never has to parse ``±``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from robustmsa.evaluation.report import metric_info as mi
from robustmsa.evaluation.report.stats import summarize
from robustmsa.fileio import atomic_write


@dataclass(frozen=True)
class StatCell:
    """Mean ± sd (already scaled) with its number of units; ``n`` shown when ``show_n``."""

    mean: float
    sd: float
    n: int
    digits: int = 2
    show_n: bool = False

    def text(self) -> str:
        if math.isnan(self.mean):
            return "—"
        s = f"{self.mean:.{self.digits}f}"
        if self.n > 1 and not math.isnan(self.sd):
            s += f" ± {self.sd:.{self.digits}f}"
        return s + (f" (n={self.n})" if self.show_n else "")


Cell = str | int | float | StatCell | None


def _text(c: Cell) -> str:
    if c is None:
        return "—"
    if isinstance(c, StatCell):
        return c.text()
    if isinstance(c, float):
        if math.isnan(c):
            return "—"
        return f"{c:.3g}" if abs(c) >= 1e5 else f"{c:.0f}" if abs(c) >= 100 else f"{c:.3g}"
    return str(c)


@dataclass
class Table:
    """Attributes:
    key: file stem under ``tables/`` (``tables/KEY.csv``, ``tables/KEY.tex``).
    caption: what the table shows (LaTeX caption; the Markdown section says it in prose).
    columns: header, first column = row label.
    rows: one list of cells per row.
    """

    key: str
    caption: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(_text(c) for c in r) + " |" for r in self.rows]
        return "\n".join(lines)

    def csv(self) -> str:
        stat_cols = {j for r in self.rows for j, c in enumerate(r) if isinstance(c, StatCell)}
        head: list[str] = []
        for j, name in enumerate(self.columns):
            head += [name, f"{name} sd", f"{name} n"] if j in stat_cols else [name]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(head)
        for r in self.rows:
            out: list = []
            for j, c in enumerate(r):
                if j in stat_cols:
                    out += ([_num(c.mean), _num(c.sd), c.n] if isinstance(c, StatCell)
                            else [_text(c) if c is not None else "", "", ""])
                else:
                    out.append(_num(c) if isinstance(c, float) else "" if c is None else c)
            w.writerow(out)
        return buf.getvalue()

    def latex(self) -> str:
        spec = "l" + "r" * (len(self.columns) - 1)
        body = [" & ".join(_tex(_text(c)) for c in r) + r" \\" for r in self.rows]
        label = re.sub(r"[^A-Za-z0-9:_-]", "-", self.key)
        return "\n".join([
            r"\begin{table}[t]", r"\centering", r"\small",
            rf"\caption{{{_tex(self.caption)}}}", rf"\label{{tab:{label}}}",
            rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
            " & ".join(_tex(c) for c in self.columns) + r" \\", r"\midrule",
            *body, r"\bottomrule", r"\end{tabular}", r"\end{table}", ""])

    def write(self, out_dir: Path) -> None:
        d = out_dir / "tables"
        d.mkdir(parents=True, exist_ok=True)
        atomic_write(d / f"{self.key}.csv", self.csv().encode())
        atomic_write(d / f"{self.key}.tex", self.latex().encode())


def _num(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else repr(float(x))


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
        "±": r"$\pm$", "↓": r"$\downarrow$", "↑": r"$\uparrow$", "→": r"$\rightarrow$",
        "—": "--", "–": "--", "×": r"$\times$", "∈": r"$\in$", "≥": r"$\geq$",
        "≤": r"$\leq$", "−": "-", "Δ": r"$\Delta$", "⚠": "(!)", "…": r"\dots{}",
        "·": r"$\cdot$", "✔": "yes", "✘": "no"}


def _tex(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(s))


def stat_cell(values: dict, metric: str, row_n: int) -> StatCell | None:
    """Mean ± sample sd of unit -> value in the metric's display units; n shown when it
    differs from the row's."""
    if not values:
        return None
    s = summarize(list(values.values()))
    k = mi.scale(metric)
    return StatCell(s.mean * k, s.sd * k, s.n, mi.digits(metric), show_n=s.n != row_n)
