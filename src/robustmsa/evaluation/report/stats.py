"""Statistics of the report: sample mean ± sd over training seeds, paired intervals.

- `summarize`: mean and **sample** standard deviation (``ddof = 1``) of the per-seed values;
  with one value the sd is NaN (printed without ±).
- `paired_interval`: the mean of the per-seed differences A - B over the seeds (and folds)
  both rows share, with a 95 % interval: Student's t with n - 1 degrees of freedom
  (``mean ± t_{0.975, n-1} · sd / sqrt(n)``; the default, honest for the 3-5 seeds of a
  benchmark) or a seeded percentile bootstrap of the mean difference (10 000 resamples).
  A difference is *detectable* only when the interval excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

INTERVALS = ("t", "bootstrap")


@dataclass(frozen=True)
class Stat:
    """Mean ± sample sd over ``n`` units (training seeds, or seeds × folds)."""

    mean: float
    sd: float
    n: int


def summarize(values: Sequence[float]) -> Stat:
    """Mean and sample standard deviation (ddof = 1; NaN for one value)."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("summarize: no values")
    sd = float(np.std(v, ddof=1)) if v.size > 1 else math.nan
    return Stat(float(np.mean(v)), sd, int(v.size))


@dataclass(frozen=True)
class Paired:
    """Mean paired difference A - B with its interval (NaN bounds when n < 2)."""

    mean: float
    lo: float
    hi: float
    n: int
    method: str
    level: float = 0.95

    @property
    def detectable(self) -> bool:
        """The interval excludes 0."""
        return self.n >= 2 and (self.lo > 0 or self.hi < 0)


def paired_interval(
    a: Mapping[Hashable, float],
    b: Mapping[Hashable, float],
    *,
    method: str = "t",
    level: float = 0.95,
    seed: int = 0,
    n_boot: int = 10_000,
) -> Paired:
    """Paired comparison of two rows over the units (seed, fold) they share.

    Args:
        a, b: unit -> value (each already averaged over mask seeds).
        method: ``"t"`` (Student t, n - 1 df) or ``"bootstrap"`` (percentile, seeded).
        level: interval coverage.
        seed: bootstrap generator seed (results are reproducible).
        n_boot: bootstrap resamples.

    Raises:
        ValueError: unknown method, or no shared unit.
    """
    if method not in INTERVALS:
        raise ValueError(f"interval {method!r} unknown; valid: {', '.join(INTERVALS)}")
    units = [u for u in a if u in b]
    if not units:
        raise ValueError("paired_interval: the two rows share no training seed")
    d = np.array([a[u] - b[u] for u in units], dtype=np.float64)
    n, mean = d.size, float(d.mean())
    if n < 2 or not np.all(np.isfinite(d)):
        return Paired(mean, math.nan, math.nan, n, method, level)
    alpha = 1.0 - level
    if method == "t":
        from scipy.stats import t as student_t

        half = float(student_t.ppf(1 - alpha / 2, n - 1)) * float(d.std(ddof=1)) / math.sqrt(n)
        return Paired(mean, mean - half, mean + half, n, method, level)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    means = d[idx].mean(axis=1)  # (n_boot,)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Paired(mean, float(lo), float(hi), n, method, level)
