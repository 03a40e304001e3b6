"""Data facts and run-level sections: coverage, appendices, loss balance, cost."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from robustmsa.evaluation.report import metric_info as mi
from robustmsa.evaluation.report.inputs import ordered
from robustmsa.evaluation.report.stats import summarize
from robustmsa.evaluation.report.tables import StatCell, Table, stat_cell

if TYPE_CHECKING:
    from robustmsa.evaluation.report.render import Builder


def coverage(rep: Builder, ds: str) -> None:
    if "coverage" not in rep.col.metrics.get(ds, set()):
        return
    t = Table(rep.key(ds, "coverage"), f"Coverage on {ds}: fraction of clips that really "
              "have every modality the condition asks for (×100); a property of the data, "
              "not a score.", ["Condition", "protocol", "coverage", "min–max over runs"])
    for p, conds in rep.col.conditions.items():
        for c in conds:
            vals = [v for r in rep.col.rows_of(ds)
                    for v in rep.col.units(r, p, c, "coverage").values()]
            if vals:
                lo, hi = min(vals) * 100, max(vals) * 100
                t.rows.append([c, p, f"{vals[0] * 100:.2f}",
                               "" if hi - lo < 1e-9 else f"{lo:.2f}–{hi:.2f}"])
    if t.rows:
        rep.md += ["### Coverage / natural missingness", ""]
        rep.emit(t, "Natural missingness lowers these below 100 %: a condition that asks "
                  "for a modality some clips lack scores those clips on less input. Shown, "
                  "never averaged into a score.")


def _emit_metric_rows(rep: Builder, ds: str, t: Table, protocol: str, condition: str,
                      metrics: list[str], heading: str) -> None:
    """One row per run of ``ds`` (label, n, a cell per metric of ``protocol``/``condition``;
    runs with no value left out) appended to ``t``, emitted under ``heading`` if any."""
    for row in rep.col.rows_of(ds):
        n = rep.col.n_units(row)
        cells = [stat_cell(rep.col.units(row, protocol, condition, x), x, n) for x in metrics]
        if any(cells):
            t.rows.append([rep.label(row), n, *cells])
    if t.rows:
        rep.md += [f"### {heading}", ""]
        rep.emit(t)


def appendix(rep: Builder, ds: str, metrics: list[str]) -> None:
    have = rep.col.metrics.get(ds, set())
    every = metrics + sorted(x for x in have if "/" not in x and x not in metrics
                             and x not in mi.NOT_SCORES)
    spots = [("subsets", c, t) for c, t in (("complete", "complete input"),
                                              ("avg_incomplete", "Avg."))
             if any(rep.col.units(r, "subsets", c, metrics[0]) for r in rep.col.rows_of(ds))]
    if len(every) > len(metrics):
        for p, c, title in spots:
            t = rep._table(ds, rep.key(ds, "all_metrics", c), f"Every metric, {title}, "
                            f"{ds}.", p, [c] * len(every), [mi.title(x) for x in every],
                            every[0])
            t.rows = []
            _emit_metric_rows(rep, ds, t, p, c, every, f"Appendix: every metric ({title})")
    per = sorted((x for x in have if "/" in x), key=_natural)
    if not per or not spots:
        return
    p, c, title = spots[0]
    for b in ordered(mi.base(x) for x in per):
        tg = [x for x in per if mi.base(x) == b]
        t = Table(rep.key(ds, "per_target", b, c), f"{mi.title(b)} per target, {title}, {ds}.",
                  ["Method", "n"] + [mi.target(x) for x in tg])
        _emit_metric_rows(rep, ds, t, p, c, tg, f"Appendix: {mi.title(b)} per target ({title})")


def balance(rep: Builder, entries: list[dict]) -> None:
    """One row per (run label, loss term) it has, so the table stays narrow for any number of
    methods and terms: share of the update (%) and gradient norm per phase, mean ± sample sd
    over seeds."""
    names = ordered(e["name"] for e in entries)
    phases = [p for p in ("start", "best") if any(e["phase"] == p for e in entries)]
    phases += [p for p in ordered(e["phase"] for e in entries) if p not in phases]
    norm_phases = [p for p in phases if p in ("start", "best")]  # gradient norms: endpoints
    cols = [f"share {ph} (%)" for ph in phases] + [f"grad norm {ph}" for ph in norm_phases]
    t = Table("loss_balance", "Loss balance: each term's share of the update (%) and the norm "
              "of its gradient, at the start, at the best epoch and averaged from the start to "
              "the best epoch; mean ± sample sd over seeds.", ["Method", "n", "Term"] + cols)
    for name in names:
        es = [e for e in entries if e["name"] == name]
        n = len({e["seed"] for e in es})
        for term in ordered(e["term"] for e in es):
            cells = []
            for field_, scale, phs in (("share", 100.0, phases), ("grad_norm", 1.0, norm_phases)):
                for ph in phs:
                    v = [float(e[field_]) for e in es if e["term"] == term
                         and e["phase"] == ph and e.get(field_) is not None]
                    s = summarize(v) if v else None
                    cells.append(None if s is None else StatCell(
                        s.mean * scale, s.sd * scale, s.n, 1 if scale == 100 else 3,
                        show_n=s.n != n))
            t.rows.append([name, n, term, *cells])
    rep.md += ["## Loss balance", "",
               "Per run label and named loss term: its share of the (clipped) parameter update "
               "and the norm of its gradient w.r.t. the deployable parameters, on a fixed "
               "training batch at the start of training, at the best epoch, and averaged over "
               "the measurements from the start to the best epoch (*mean_to_best*: the updates "
               "that produced the selected weights). A term with a share near 0 does no "
               "measurable work.", ""]
    rep.emit(t, "**Share of the update and gradient norm per term**")


def costs(rep: Builder, costs: list[dict]) -> None:
    keys = ordered(k for c in costs for k in c)
    t = Table("costs", "Cost per run label (means over seeds).", keys)
    for c in costs:
        t.rows.append([c.get(k) for k in keys])
    rep.md += ["## Cost", ""]
    rep.emit(t, "As measured by the benchmark (see its preamble for the machine).")


def _natural(s: str) -> list:
    """Sort key: ``t2`` before ``t10``."""
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]
