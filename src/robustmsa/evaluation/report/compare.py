"""Paired comparisons of rows over shared training seeds (the only source of "beats")."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from robustmsa.evaluation.protocols import PROTOCOLS
from robustmsa.evaluation.report import metric_info as mi
from robustmsa.evaluation.report.collect import Row
from robustmsa.evaluation.report.inputs import ordered
from robustmsa.evaluation.report.stats import Paired, paired_interval
from robustmsa.evaluation.report.tables import Table

if TYPE_CHECKING:
    from robustmsa.evaluation.report.render import Builder


def parents(rep: Builder, row: Row, rows: list[Row]) -> list[Row]:
    same = [r for r in rows if r.missing_input == row.missing_input and r != row]
    names = {r.name: r for r in same}
    if row.name in rep.compare_to:
        return [names[n] for n in rep.compare_to[row.name] if n in names]
    method = rep.col.methods.get(row, "")
    if method != row.name and method in names:
        return [names[method]]
    pre = [n for n in names if row.name.startswith(n + "_")]
    return [names[max(pre, key=len)]] if pre else []


def comparisons(rep: Builder, ds: str, m: str) -> None:
    rows = rep.col.rows_of(ds)
    targets = [(p, c, t) for p, c, t in
               [("subsets", "avg_incomplete", "Avg."), ("subsets", "complete", "complete")]
               + [(p, "auc", f"{p} AUC") for p in rep.col.conditions
                  if p in PROTOCOLS and PROTOCOLS[p].summary == "auc"]
               if any(rep.col.units(r, p, c, m) for r in rows)]
    if len(rows) < 2 or not targets:
        return
    p0, c0, _ = targets[0]
    sign = -1.0 if mi.lower_is_better(m) else 1.0
    pairs: list[tuple[Row, Row, str]] = []
    for inp in ordered(r.missing_input for r in rows):
        grp = [r for r in rows if r.missing_input == inp]
        ranked = sorted((r for r in grp if not rep.is_teacher(r)
                         and rep.col.units(r, p0, c0, m)),
                        key=lambda r: -sign * rep.col.stat(r, p0, c0, m).mean)
        refs: list[tuple[Row, Row, str]] = []  # parents first: they win duplicates
        for r in grp:
            refs += [(r, pa, "parent" if r.name not in rep.compare_to else "compare_to")
                     for pa in parents(rep, r, grp)]
        for r in grp:
            refs += [(r, t, "teacher") for t in grp if rep.is_teacher(t) and t != r]
            refs += [(r, b, f"strongest other (mean {mi.title(m)} {targets[0][2]})")
                     for b in [b for b in ranked if b != r][:1]]
        for r, b, why in refs:
            if not any({x[0], x[1]} == {r, b} for x in pairs):
                pairs.append((r, b, why))
    by_name: dict[str, list[Row]] = {}
    for r in rows:
        by_name.setdefault(r.name, []).append(r)
    for rs in by_name.values():
        z = [r for r in rs if r.missing_input == "zeros"]
        k = [r for r in rs if r.missing_input == "mask"]
        if z and k:
            pairs.append((z[0], k[0], "missing input"))
    if not pairs:
        return
    rank = {"teacher": 0, "parent": 1, "compare_to": 1, "missing input": 3}
    pairs.sort(key=lambda x: (rows.index(x[0]), rank.get(x[2], 2)))
    k, d = mi.scale(m), mi.digits(m)
    t = Table(rep.key(ds, "paired", m), f"Paired differences A − B of {mi.title(m)} "
              f"({mi.unit(m)}) over shared training seeds, {ds}: mean [95 % "
              f"{rep.interval_name()}]; * = the interval excludes 0.",
              ["A", "B", "B is", "n", *[f"Δ {x[2]}" for x in targets]])
    claims, quiet = [], 0
    for a, b, why in pairs:
        cells, ns = [], set()
        for p, c, ctitle in targets:
            ua, ub = rep.col.units(a, p, c, m), rep.col.units(b, p, c, m)
            if not ua or not ub or not set(ua) & set(ub):
                cells.append(None)
                continue
            pr: Paired = paired_interval(ua, ub, method=rep.interval,
                                         seed=rep.bootstrap_seed)
            ns.add(pr.n)
            if math.isnan(pr.mean):
                cells.append(None)
                continue
            if pr.n < 2 or math.isnan(pr.lo):
                cells.append(f"{pr.mean * k:+.{d}f} (n = {pr.n}: no interval)")
                quiet += 1
                continue
            cells.append(f"{pr.mean * k:+.{d}f} [{pr.lo * k:+.{d}f}, {pr.hi * k:+.{d}f}]"
                         + ("*" if pr.detectable else ""))
            if not pr.detectable:
                quiet += 1
                continue
            win, lose, f = (a, b, 1.0) if sign * pr.mean > 0 else (b, a, -1.0)
            lo, hi = sorted((f * pr.lo * k, f * pr.hi * k))
            claims.append(
                f"- **{rep.label(win)}** beats **{rep.label(lose)}** on {ctitle} "
                f"{mi.title(m)}: {abs(pr.mean) * k:.{d}f}{' points' if k == 100 else ''} "
                f"{'lower' if sign < 0 else 'higher'} (95 % interval of the difference "
                f"[{lo:+.{d}f}, {hi:+.{d}f}], n = {pr.n} paired seeds).")
        if any(cells):
            t.rows.append([rep.label(a), rep.label(b), why,
                           "/".join(str(x) for x in sorted(ns)), *cells])
    if not t.rows:
        return
    rep.md += ["### Paired comparisons", "",
                f"Each row against the teacher, the strongest other row and its parent "
                f"(ablations: by `compare_to`, else the row named after its registry method, "
                f"else the longest name prefix), on {', '.join(x[2] for x in targets)} "
                f"{mi.title(m)}; same training seed = a pair, 95 % {rep.interval_name()}"
                + ("; lower is better" if sign < 0 else "") + ". The intervals are not adjusted "
                "for the number of comparisons: with no real difference, about 1 in 20 would "
                "still exclude 0.", ""]
    rep.md += claims or ["- No difference is detectable in any comparison (table): not "
                          f"with {n_text(rep, ds)}."]
    if claims and quiet:
        rep.md.append(f"- The other {quiet} comparisons: no difference detectable with "
                       f"{n_text(rep, ds)} (table).")
    rep.md.append("")
    rep.emit(t)


def n_text(rep: Builder, ds: str) -> str:
    ns = sorted({rep.col.n_units(r) for r in rep.col.rows_of(ds)})
    what = "(seed, fold) units" if rep.col.has_folds else "seeds"
    return f"n = {'/'.join(map(str, ns))} {what}"
