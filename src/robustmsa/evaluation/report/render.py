"""The sections of ``report.md``; every table also goes to ``tables/KEY.{csv,tex}``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robustmsa.data.schema import DatasetInfo
from robustmsa.evaluation.protocols import PROTOCOLS, incomplete_subsets
from robustmsa.evaluation.report import metric_info as mi
from robustmsa.evaluation.report.collect import (
    Collection,
    Row,
    curve_conditions,
    empties_all,
)
from robustmsa.evaluation.report.compare import comparisons
from robustmsa.evaluation.report.inputs import ordered
from robustmsa.evaluation.report.plots import Series, plot_curves, plot_points
from robustmsa.evaluation.report.sections import appendix, coverage
from robustmsa.evaluation.report.tables import StatCell, Table, stat_cell
from robustmsa.metrics import effective_robustness
from robustmsa.missing import subset_name
from robustmsa.types import MODALITIES

INPUT_MEANING = {
    "zeros": "missing frames and modalities are zero vectors at the raw-feature level, seen by "
             "attention and pooling (the papers' protocol)",
    "mask": "missing frames and modalities are zeroed and also removed from attention and "
            "pooling",
}


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")


@dataclass
class Builder:
    col: Collection
    out: Path
    infos: dict[str, DatasetInfo]
    chance: dict[str, dict[str, float]]
    primary: str | None
    compare_to: dict[str, list[str]]
    interval: str
    bootstrap_seed: int
    md: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    multi_dataset: bool = False

    # ------------------------------------------------------------------ helpers
    def emit(self, t: Table, prose: str = "") -> None:
        self.tables.append(t)
        t.write(self.out)
        if prose:
            self.md += [prose, ""]
        self.md += [t.markdown(), "", f"<sub>{t.key}: [CSV](tables/{t.key}.csv) · "
                    f"[LaTeX](tables/{t.key}.tex)</sub>", ""]

    def key(self, ds: str, *parts: str) -> str:
        return _slug("_".join(([ds] if self.multi_dataset else []) + list(parts)))

    def fig_path(self, ds: str, name: str) -> Path:
        return self.out / (f"{name}_{_slug(ds)}" if self.multi_dataset else name)

    def label(self, row: Row) -> str:
        mixed = len({r.missing_input for r in self.col.rows_of(row.dataset)}) > 1
        return row.name + (f" [{row.missing_input or 'unrecorded'}]" if mixed else "")

    def mods(self, ds: str) -> tuple[str, ...] | None:
        info = self.infos.get(ds)
        return info.modalities if info else None

    def chance_of(self, ds: str, metric: str) -> float | None:
        v = self.chance.get(ds, {}).get(metric)
        return None if v is None or not math.isfinite(v) else float(v)

    def chance_label(self, ds: str) -> str:
        regression = "MAE" in self.col.metrics.get(ds, set())
        return "constant (training median)" if regression else "majority class"

    def chance_text(self, ds: str, metrics: list[str]) -> str:
        vals = [(m, self.chance_of(ds, m)) for m in metrics]
        vals = [(m, v) for m, v in vals if v is not None]
        if not vals:
            return ""
        return ("Majority-class reference (one constant prediction for every test clip: the "
                "most frequent training class, or the training median score): "
                + ", ".join(f"{mi.title(m)} {v * mi.scale(m):.{mi.digits(m)}f}" for m, v in vals)
                + ".")

    def headline(self, ds: str) -> list[str]:
        return mi.headline(self.col.metrics.get(ds, set()), self.primary)

    # ------------------------------------------------------------------ sections
    def conventions(self) -> None:
        col = self.col
        n_txt = ("over the n (training seed, fold) units of a row: folds × seeds are averaged "
                 "together, each (seed, fold) pair one unit" if col.has_folds
                 else "over the n training seeds of a row")
        rnd = {}
        for p, conds in col.conditions.items():
            k = sum(c in col.random_conditions for c in conds)
            if k:
                rnd[p] = f"{p} ({k} of {len(conds)} conditions)"
        det = ordered(c for conds in col.conditions.values() for c in conds
                      if c not in col.random_conditions)
        inputs = ordered(r.missing_input for r in col.rows)
        if inputs == [""]:
            inp = ("not recorded in these records (older files); such runs used `mask`-style "
                   "masking unless their config says otherwise")
        else:
            inp = "; ".join(f"`{i}` = {INPUT_MEANING.get(i, 'as recorded')}" for i in inputs if i)
            inp += (". Rows with different conventions are labelled `[zeros]` / `[mask]` and never "
                    "averaged together" if len(inputs) > 1 else f" (every row uses `{inputs[0]}`)")
        lines = [
            "## How to read this report", "",
            f"- **±** is the sample standard deviation (ddof = 1) {n_txt} (column **n**; a "
            "cell with another n says so). One unit: no ±. Values are stored unrounded in "
            "`results.json`; metrics in [0, 1] are shown ×100, MAE / Corr unscaled, ↓ = lower "
            "is better.",
            f"- **Mask seeds** {col.mask_seeds}: conditions whose mask is random "
            f"({', '.join(rnd.values()) or 'none here'}) are averaged over them per training "
            "seed first. Conditions that draw no randomness"
            f"{' (' + ', '.join(det) + ')' if det else ''} give the same mask for every mask "
            "seed, so they are reported from one mask.",
            f"- **Missing input**: {inp}.",
            "- **Avg.** = mean over the incomplete modality subsets of the dataset's own "
            "modalities; **AUC** = area under the metric-vs-rate curve over the rates that leave "
            "some input (p ∈ [0, 0.9] for frame drop), divided by the rate span. The all-empty "
            "end point (frame / block drop at p = 1.0: no clip has any input) is reported "
            "apart, next to the majority-class score: there a model can only output one "
            "constant guess.",
            "- **ER** = MultiBench effective robustness per rate, (1/K) Σ_p [f(p) − (f_ref(p) "
            "+ f(0) − f_ref(0))] over the K rates of the AUC (MultiBench's sum divided by K, "
            "so it reads in the metric's units; no min-max normalisation across methods), "
            "f_ref = the teacher of the same training seed; > 0: degrades less than the "
            "teacher (< 0 for ↓ metrics).",
            f"- **Paired comparisons**: the mean difference over the training seeds two rows "
            f"share (same seed = a pair) with a 95 % {self.interval_name()}; a sentence says "
            "that one row beats another only when that interval excludes 0.",
            "- Model selection used the validation split only (the trainer never reads test).",
        ]
        if col.synthesized:
            lines.append(f"- {', '.join(sorted(col.synthesized))}: not in the records, averaged "
                         "here over the per-target values.")
        lines += [f"- {n}" for n in col.notes]
        self.md += lines + [""]

    def interval_name(self) -> str:
        if self.interval == "t":
            return "paired Student-t interval (n − 1 degrees of freedom)"
        return f"percentile bootstrap interval (10 000 resamples, seed {self.bootstrap_seed})"

    def dataset(self, ds: str) -> None:
        col = self.col
        info = self.infos.get(ds)
        self.md += [f"## Dataset `{ds}`", ""]
        metrics = self.headline(ds)
        if not metrics:
            self.md += ["No score metrics in the records.", ""]
            return
        if info is None:
            self.md += ["Dataset facts not given to the report: subset columns are not "
                        "restricted to its modalities and sequence lengths are not checked.", ""]
        else:
            short = [m for m in info.modalities if info.seq_lens.get(m) == 1]
            if short:
                self.md += [
                    f"⚠ **Every sequence of {', '.join(short)} has length 1** on `{ds}`: frame "
                    "drop at rate p removes the whole modality with probability p (frame drop = "
                    "modality drop)" + (f", and leaves a fraction p^{len(short)} of clips with "
                    "no input at all" if len(short) == len(info.modalities) else "") + ".", ""]
            if set(info.modalities) != set(MODALITIES):
                self.md += [f"`{ds}` has the modalities {', '.join(info.modalities)} only: subset "
                            "columns are restricted to them (conditions naming an absent "
                            "modality equal another subset or leave no input).", ""]
        descr = "; ".join(f"**{mi.title(m)}** = {mi.DESCRIPTIONS.get(mi.base(m), m)} "
                          f"({mi.unit(m)})" for m in metrics)
        self.md += [f"Metrics: {descr}.", ""]
        ch = self.chance_text(ds, metrics)
        if ch:
            self.md += [ch, ""]
        if "subsets" in col.conditions:
            self.subsets(ds, metrics)
        for p in col.conditions:
            if p in PROTOCOLS and PROTOCOLS[p].summary in ("auc", "mean"):
                self.curve(ds, p, metrics)
        self.end_points(ds, metrics)
        self.others(ds, metrics)
        comparisons(self, ds, metrics[0])
        coverage(self, ds)
        appendix(self, ds, metrics)

    def subset_columns(self, ds: str) -> tuple[list[str], list[str]]:
        mods = self.mods(ds)
        inc = list(incomplete_subsets(mods))
        present = self.col.conditions.get("subsets", [])
        cols = [c for c in inc if c in present]
        if inc:
            cols.append("avg_incomplete")
        cols.append("complete")
        full = subset_name(mods) if mods else "tav"
        titles = ["Avg." if c == "avg_incomplete" else f"{full} (complete)" if c == "complete"
                  else c for c in cols]
        return cols, titles

    def _table(self, ds: str, key: str, caption: str, protocol: str, conds: list[str],
               titles: list[str], metric: str, extra=None, extra_titles=()) -> Table:
        t = Table(key, caption, ["Method", "n", *titles, *extra_titles])
        for row in self.col.rows_of(ds):
            n = self.col.n_units(row)
            cells = [stat_cell(self.col.units(row, protocol, c, metric), metric, n)
                     for c in conds]
            if not any(cells):
                continue
            t.rows.append([self.label(row), n, *cells, *(extra(row) if extra else [])])
        return t

    def subsets(self, ds: str, metrics: list[str]) -> None:
        cols, titles = self.subset_columns(ds)
        self.md += ["### Inter-modality missingness (available modalities)", "",
                    "Columns: the modalities available (t = text, a = audio, v = vision); "
                    "Avg. = mean over the incomplete subsets.", ""]
        for j, m in enumerate(metrics):
            t = self._table(ds, self.key(ds, "subsets", m), f"{mi.title(m)} ({mi.unit(m)}) per "
                            f"available-modality subset on {ds}; mean ± sample sd over n seeds.",
                            "subsets", cols, titles, m)
            if not t.rows:
                continue
            self.emit(t, f"**{mi.title(m)}**" if j else "")
            if j == 0:
                self.subset_figure(ds, m, cols, titles)

    def subset_figure(self, ds: str, m: str, cols: list[str], titles: list[str]) -> None:
        series = self.series(ds, "subsets", cols, m)
        if not series:
            return
        path = self.fig_path(ds, "subsets")
        ch = self.chance_of(ds, m)
        files, lo = plot_points(
            series, titles, path=path, ylabel=f"{mi.title(m)} ({mi.unit(m)})",
            title=f"{mi.title(m)} per available-modality subset ({ds})", chance=None if ch is None
            else ch * mi.scale(m), chance_label=self.chance_label(ds), percent=mi.scale(m) == 100,
            separate_last=2 if "avg_incomplete" in cols else 1)
        self.figures += files
        self.md += [f"![subsets]({files[0].name})", "",
                    f"*Figure: mean {mi.title(m)} per subset, error bars ± 1 sample sd over "
                    f"training seeds; dashed line: {self.chance_label(ds)}; the y axis starts at "
                    f"{lo:g}. "
                    f"PDF: [{files[1].name}]({files[1].name}).*", ""]

    def series(self, ds: str, protocol: str, conds: list[str], m: str,
               end: str | None = None) -> list[Series]:
        out = []
        k = mi.scale(m)
        for row in self.col.rows_of(ds):
            st = [self.col.stat(row, protocol, c, m) for c in conds]
            if any(s is None for s in st):
                continue
            es = self.col.stat(row, protocol, end, m) if end else None
            out.append(Series(self.label(row), np.array([s.mean for s in st]) * k,
                              np.array([s.sd for s in st]) * k,
                              es.mean * k if es else math.nan, es.sd * k if es else math.nan))
        return out

    def reference(self, row: Row) -> Row | None:
        """The teacher row of the same dataset (same missing input when there is one)."""
        cands = [r for r in self.col.rows_of(row.dataset) if self.is_teacher(r)]
        same = [r for r in cands if r.missing_input == row.missing_input]
        return (same or cands or [None])[0]

    def is_teacher(self, row: Row) -> bool:
        return self.col.methods.get(row) == "teacher" or row.name == "teacher"

    def er_cell(self, row: Row, protocol: str, conds: list[str], m: str) -> StatCell | None:
        ref = self.reference(row)
        if ref is None:
            return None
        f = {c: self.col.units(row, protocol, c, m) for c in conds}
        g = {c: self.col.units(ref, protocol, c, m) for c in conds}
        units = [u for u in f[conds[0]] if all(u in f[c] and u in g[c] for c in conds)]
        if not units:
            return None
        vals = {u: effective_robustness([f[c][u] for c in conds], [g[c][u] for c in conds])
                / len(conds) for u in units}
        return stat_cell(vals, m, self.col.n_units(row))

    def curve(self, ds: str, p: str, metrics: list[str]) -> None:
        spec = PROTOCOLS[p]
        present = self.col.conditions[p]
        conds = curve_conditions(p, present)
        if not conds:
            return
        summ = spec.summary
        span = f"[{spec.rate(conds[0]):g}, {spec.rate(conds[-1]):g}]"
        stitle = f"{'AUC' if summ == 'auc' else 'mean'} {span}"
        m = metrics[0]
        has_ref = any(self.is_teacher(r) for r in self.col.rows_of(ds))
        er = summ == "auc" and has_ref
        t = self._table(ds, self.key(ds, p, m), f"{mi.title(m)} ({mi.unit(m)}) vs {p} rate on "
                        f"{ds}; {stitle} over rates {span}; mean ± sample sd over n seeds.",
                        p, conds + [summ], [c.split(":", 1)[1] for c in conds] + [stitle], m,
                        extra=(lambda r: [self.er_cell(r, p, conds, m)]) if er else None,
                        extra_titles=("ER vs teacher",) if er else ())
        if not t.rows:
            return
        ends = [c for c in present if empties_all(c)]
        self.md += [f"### Protocol `{p}`", "",
                    f"Rates {', '.join(c.split(':', 1)[1] for c in conds)}"
                    + (f"; {', '.join(ends)} (every clip empty) is in the end-point table "
                       "below, not in the " + stitle.split()[0] if ends else "") + ".", ""]
        self.emit(t, f"**{mi.title(m)}**")
        if summ == "auc":
            series = self.series(ds, p, conds, m, end=ends[0] if ends else None)
            if series:
                ch = self.chance_of(ds, m)
                files, lo = plot_curves(
                    series, [spec.rate(c) for c in conds], spec.rate(ends[0]) if ends else None,
                    path=self.fig_path(ds, p), xlabel=f"{p} rate",
                    ylabel=f"{mi.title(m)} ({mi.unit(m)})",
                    title=f"{mi.title(m)} vs {p} rate ({ds})",
                    chance=None if ch is None else ch * mi.scale(m),
                    chance_label=self.chance_label(ds), percent=mi.scale(m) == 100)
                self.figures += files
                self.md += [f"![{p}]({files[0].name})", "",
                            f"*Figure: mean {mi.title(m)} vs rate, error bars ± 1 sample sd over "
                            "training seeds (points dodged sideways); hollow markers: the "
                            f"all-empty end point, not in the AUC; dashed: {self.chance_label(ds)}; "
                            f"the y axis starts at {lo:g}. PDF: [{files[1].name}]({files[1].name}).*",
                            ""]
        if len(metrics) > 1:
            t2 = Table(self.key(ds, p, "summary"), f"{stitle} of every headline metric, {p}, {ds}.",
                       ["Method", "n"] + [f"{mi.title(x)} {stitle.split()[0]}" for x in metrics[1:]]
                       + ([f"{mi.title(x)} ER" for x in metrics[1:]] if er else []))
            for row in self.col.rows_of(ds):
                n = self.col.n_units(row)
                cells = [stat_cell(self.col.units(row, p, summ, x), x, n) for x in metrics[1:]]
                if er:
                    cells += [self.er_cell(row, p, conds, x) for x in metrics[1:]]
                if any(cells):
                    t2.rows.append([self.label(row), n, *cells])
            if t2.rows:
                self.emit(t2, "Other metrics:")

    def end_points(self, ds: str, metrics: list[str]) -> None:
        ends = [(p, c) for p, cs in self.col.conditions.items() for c in cs if empties_all(c)]
        if not ends:
            return
        cols = [(p, c, m) for p, c in ends for m in metrics]
        t = Table(self.key(ds, "all_empty"), f"Scores when every clip is empty ({ds}); not part "
                  "of any AUC; a model can only output one constant guess here.",
                  ["Method", "n"] + [f"{c} {mi.title(m)}" for _p, c, m in cols])
        for row in self.col.rows_of(ds):
            n = self.col.n_units(row)
            cells = [stat_cell(self.col.units(row, p, c, m), m, n) for p, c, m in cols]
            if any(cells):
                t.rows.append([self.label(row), n, *cells])
        ch = [self.chance_of(ds, m) for _p, _c, m in cols]
        if any(v is not None for v in ch):
            t.rows.append([self.chance_label(ds), "", *[None if v is None else
                           StatCell(v * mi.scale(m), math.nan, 1, mi.digits(m))
                           for v, (_p, _c, m) in zip(ch, cols, strict=True)]])
        self.md += ["### All-empty end point", ""]
        self.emit(t, "Every clip has no input left: the score measures which constant the "
                  "model outputs for empty input, not robustness, so it is kept out of the AUC. "
                  "Compare it with the majority-class row.")

    def others(self, ds: str, metrics: list[str]) -> None:
        ps = [p for p in self.col.conditions if p not in PROTOCOLS or not PROTOCOLS[p].summary]
        for p in ps:
            conds = self.col.conditions[p]
            t = self._table(ds, self.key(ds, p, metrics[0]), f"{mi.title(metrics[0])} under "
                            f"further conditions ({p}), {ds}.", p, conds, conds, metrics[0])
            if t.rows:
                self.md += [f"### Other conditions (`{p}`)", ""]
                self.emit(t)
