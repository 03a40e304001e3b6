"""Robustness summaries over missing-modality conditions or missing rates.

- `mean_over_conditions`: the "Avg." column of CorrKD/MMIN-style tables, the plain mean of a
  metric over fixed conditions (default: the 6 incomplete subsets ``t, a, v, ta, tv, av``, named
  as `robustmsa.missing.protocols.subset_name` names them).
- `area_under_curve`: trapezoidal area under a metric-vs-missing-rate curve, by default divided
  by the rate span so that it reads in the metric's units (a "mean level"). This is MultiBench's
  *relative robustness* before its min-max normalisation across stored reference methods, which
  is not done here: MultiBench sums ``(f_i + f_{i+1}) * 0.1 / 2`` over levels 0, 0.1, ...,
  i.e. ``normalize=False`` with those rates.
- `effective_robustness`: MultiBench's ``sum(f - beta_f)`` with ``beta_f`` the reference curve
  shifted to start at ``f[0]`` (again without the cross-method min-max normalisation).

NaN inputs propagate to NaN results (e.g. an undefined Corr in one condition makes the mean
NaN). For lower-is-better metrics (MAE) read the signs accordingly. Invalid input raises
``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: The six incomplete modality subsets (t = text, a = audio, v = vision), canonical names.
INCOMPLETE_CONDITIONS: tuple[str, ...] = ("t", "a", "v", "ta", "tv", "av")


def mean_over_conditions(
    values: Mapping[str, float], conditions: Sequence[str] = INCOMPLETE_CONDITIONS
) -> float:
    """Mean of a metric over the given conditions (the "Avg." column).

    Args:
        values: condition name -> metric value (extra conditions, e.g. ``"tav"``, are ignored).
        conditions: which conditions to average; default the 6 incomplete subsets.

    Returns:
        The arithmetic mean (NaN if any selected value is NaN).

    Raises:
        ValueError: if ``conditions`` is empty or has duplicates, or a condition is missing.
    """
    conds = list(conditions)
    if not conds:
        raise ValueError("conditions: empty")
    if len(set(conds)) != len(conds):
        raise ValueError(f"conditions: duplicates in {conds}")
    missing = [c for c in conds if c not in values]
    if missing:
        raise ValueError(
            f"values: no entry for condition(s) {missing}; have {sorted(values)}"
        )
    return float(np.mean([float(values[c]) for c in conds]))


def _curve(rates: Sequence[float], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rates, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if r.ndim != 1 or v.ndim != 1 or r.shape != v.shape:
        raise ValueError(f"rates and values must be 1-D of equal length, got {r.shape} and {v.shape}")
    if r.size < 2:
        raise ValueError("need at least 2 (rate, value) points")
    if not np.all(np.isfinite(r)):
        raise ValueError("rates: must be finite")
    if not np.all(np.diff(r) > 0):
        raise ValueError(f"rates: must be strictly increasing, got {r.tolist()}")
    return r, v


def area_under_curve(
    rates: Sequence[float], values: Sequence[float], normalize: bool = True
) -> float:
    """Trapezoidal area under a metric-vs-rate curve (MultiBench relative robustness, raw).

    Args:
        rates: strictly increasing missing rates / noise levels, e.g. ``0, 0.1, ..., 0.9``.
        values: metric value at each rate.
        normalize: divide by ``rates[-1] - rates[0]``, giving the curve's mean level in the
            metric's units (comparable across rate grids).

    Returns:
        The (normalised) area. Not min-max normalised across methods.
    """
    r, v = _curve(rates, values)
    area = float(np.sum((v[1:] + v[:-1]) * np.diff(r) / 2.0))
    return area / float(r[-1] - r[0]) if normalize else area


def effective_robustness(values: Sequence[float], reference: Sequence[float]) -> float:
    """MultiBench effective robustness: ``sum(f - (ref + f[0] - ref[0]))``.

    Positive means the curve ``values`` degrades less than ``reference`` (e.g. late fusion)
    once both are aligned at the first level (for higher-is-better metrics).

    Args:
        values: metric of the method at each level (first = clean / lowest rate).
        reference: metric of the reference method at the same levels.

    Returns:
        The raw sum (not min-max normalised across methods).
    """
    f = np.asarray(values, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if f.ndim != 1 or f.shape != ref.shape or f.size == 0:
        raise ValueError(
            f"values and reference must be non-empty 1-D of equal length, got {f.shape} and "
            f"{ref.shape}"
        )
    return float(np.sum(f - (ref + (f[0] - ref[0]))))
