"""Every protocol family of the field as a seeded per-sample sampler.

| Sampler | Family | Paper / code it follows |
|---|---|---|
| `Complete` | nothing removed | — |
| `Subset("ta")` | inter-modality fixed subsets (6 incomplete + complete) | MMIN, CorrKD tables |
| `FrameDrop(p)` | intra-modality frame drop at rate p, per modality or shared | MMSA / TFR-Net `generate_m`, OpenVNA, CorrKD curves |
| `BlockDrop(p)` | one contiguous span of round(p·len) frames | OpenVNA "block drop" |
| `SampleModalityRate(eta)` | fraction eta of (sample, modality) entries, >= 1 kept | CPM-Net / GCNet |
| `ModalityRandomDrop(rates)` | each modality dropped whole with its own probability, >= 1 kept | MMSA/LNLN "modality missing" ablations |
| `LNLNTrain()` | per-sample, per-modality frame rate ~ U(0,1); half the samples complete | LNLN training |
| `MRM()` | random available subset + random intra-modality ratio | CorrKD's Modality Random Missing |
| `RandomSubset()` | one of the 6 incomplete subsets, uniformly, per sample | MMIN training |
| `SevereMissing(rates)` | a modality absent for a fixed fraction of the samples, the same every epoch | SMIL training |

All samplers draw from the generator they are handed (see `missing.masks.draw_mask`), never
from global state; ``key`` identifies the condition in the seed. ``is_random`` says whether the
mask depends on the seed at all (subsets and ``complete`` do not, so averaging them over mask
seeds changes nothing); ``empties_all`` whether every clip is left with no input (frame or
block drop at rate 1.0), the end point reports keep apart from areas under curves. A sampler
with ``static = True`` describes data that *is* missing rather than simulated dropout: the
trainer's per-epoch salt is ignored, so a sample keeps the same mask in every epoch. Samplers
whose row needs neither the generator nor the lengths also set ``uses_rng = False`` and are
drawn vectorised.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from robustmsa.missing.masks import counter_uniforms
from robustmsa.types import LONG_TO_SHORT, MODALITIES, SHORT_NAMES

Row = tuple[dict[str, bool], dict[str, np.ndarray]]
MAX_ETA = (len(MODALITIES) - 1) / len(MODALITIES)


def subset_name(mods: tuple[str, ...] | frozenset[str]) -> str:
    """``("text", "audio") -> "ta"`` (letters in canonical order)."""
    return "".join(LONG_TO_SHORT[m] for m in MODALITIES if m in mods)


def parse_subset(name: str) -> tuple[str, ...]:
    """``"ta" -> ("text", "audio")``; accepts letters in any order, or comma-separated names."""
    if name in MODALITIES:
        parts = [name]
    else:
        parts = name.split(",") if "," in name else list(name)
    if not parts:
        raise ValueError("empty modality subset")
    out = set()
    for p in parts:
        p = p.strip()
        m = SHORT_NAMES.get(p, p)
        if m not in MODALITIES:
            raise ValueError(
                f"unknown modality {p!r} in subset {name!r}; use letters t, a, v or names "
                f"{', '.join(MODALITIES)}"
            )
        out.add(m)
    return tuple(m for m in MODALITIES if m in out)


def all_subsets(modalities: tuple[str, ...] = MODALITIES) -> list[tuple[str, ...]]:
    """Every non-empty subset (2^M - 1), smallest first, canonical order inside."""
    subs = []
    for k in range(1, len(modalities) + 1):
        subs.extend(itertools.combinations(modalities, k))
    return subs


def _valid(length: int, t: int) -> np.ndarray:
    return np.arange(t) < length


def _drop_frames(
    rng: np.random.Generator, length: int, t: int, rate: float, exact: bool
) -> np.ndarray:
    """Keep-mask of length ``t``: drop valid frames at ``rate`` (padding is never 'dropped')."""
    keep = np.ones(t, dtype=bool)
    if rate <= 0 or length <= 0:
        return keep
    if exact:
        k = int(np.floor(rate * length + 1e-9))
        drop = rng.choice(length, size=k, replace=False)
        keep[drop] = False
    else:
        u = rng.random(length)
        keep[:length] = u >= rate
    return keep


def _keep_one_real(rng: np.random.Generator, pres: dict[str, bool], lengths: dict[str, int]
                   ) -> None:
    """If no modality the sample has (length > 0) is kept, keep one of them, chosen uniformly
    (all modalities when it has none). Complete samples that kept one are left untouched."""
    have = [m for m in pres if lengths[m] > 0] or list(pres)
    if not any(pres[m] for m in have):
        pres[have[int(rng.integers(len(have)))]] = True


def _check_rate(name: str, r: float) -> float:
    r = float(r)
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {r}")
    return r


@dataclass(frozen=True)
class Complete:
    """No modality or frame removed."""

    uses_rng: ClassVar[bool] = False  # row ignores rng and lengths: drawn vectorised
    is_random = False  # the mask does not depend on the seed
    empties_all = False  # never leaves every clip with no input

    @property
    def key(self) -> str:
        return "complete"

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        return ({m: True for m in seq_lens}, {m: np.ones(seq_lens[m], bool) for m in seq_lens})


@dataclass(frozen=True)
class Subset:
    """Only the modalities in ``available`` are present (letters ``"ta"`` or names)."""

    available: str

    uses_rng: ClassVar[bool] = False  # row ignores rng and lengths: drawn vectorised
    is_random = False  # the mask does not depend on the seed
    empties_all = False  # never leaves every clip with no input

    @property
    def key(self) -> str:
        return f"subset:{subset_name(parse_subset(self.available))}"

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        av = set(parse_subset(self.available))
        return ({m: m in av for m in seq_lens}, {m: np.ones(seq_lens[m], bool) for m in seq_lens})


@dataclass(frozen=True)
class FrameDrop:
    """Intra-modality drop: every valid frame is removed with probability ``rate``.

    Args:
        rate: default drop rate for every modality.
        overrides: per-modality rates, e.g. ``(("text", 0.0),)`` to spare text.
        shared: one set of dropped positions for all modalities (aligned data, equal T);
            OpenVNA's "temporal drop".
        exact: drop exactly floor(rate * length) frames instead of Bernoulli(rate) each.
    """

    rate: float
    overrides: tuple[tuple[str, float], ...] = ()
    shared: bool = False
    exact: bool = False

    def __post_init__(self) -> None:
        _check_rate("rate", self.rate)
        for m, r in self.overrides:
            if m not in MODALITIES:
                raise ValueError(f"unknown modality {m!r} in overrides")
            _check_rate(f"rate for {m}", r)

    @property
    def key(self) -> str:
        ov = ",".join(f"{m}={r:g}" for m, r in self.overrides)
        return f"frame:{self.rate:g}|{ov}|{'shared' if self.shared else 'indep'}|{int(self.exact)}"

    def rate_of(self, m: str) -> float:
        return dict(self.overrides).get(m, self.rate)

    def _rates(self) -> list[float]:
        """The default rate (unless every modality is overridden) and the overrides."""
        over = {m for m, _ in self.overrides}
        return ([self.rate] if len(over) < len(MODALITIES) else []) + [r for _, r in self.overrides]

    @property
    def is_random(self) -> bool:
        return any(0.0 < r < 1.0 for r in self._rates())

    @property
    def empties_all(self) -> bool:
        return all(r >= 1.0 for r in self._rates())

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        keep: dict[str, np.ndarray] = {}
        if self.shared:
            ts = set(seq_lens.values())
            if len(ts) != 1:
                raise ValueError(f"shared frame drop needs equal sequence lengths; got {seq_lens}")
            t = ts.pop()
            u = rng.random(t)
            for m in seq_lens:
                keep[m] = (u >= self.rate_of(m)) | ~_valid(lengths[m], t)
        else:
            for m in seq_lens:
                keep[m] = _drop_frames(rng, lengths[m], seq_lens[m], self.rate_of(m), self.exact)
        return ({m: True for m in seq_lens}, keep)


@dataclass(frozen=True)
class BlockDrop:
    """One contiguous span of round(rate * length) frames removed per modality (OpenVNA)."""

    rate: float

    def __post_init__(self) -> None:
        _check_rate("rate", self.rate)

    @property
    def key(self) -> str:
        return f"block:{self.rate:g}"

    @property
    def is_random(self) -> bool:
        return 0.0 < self.rate < 1.0

    @property
    def empties_all(self) -> bool:
        return self.rate >= 1.0

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        keep = {}
        for m, t in seq_lens.items():
            k = np.ones(t, bool)
            n = int(round(self.rate * lengths[m]))
            if n > 0:
                start = int(rng.integers(0, lengths[m] - n + 1))
                k[start : start + n] = False
            keep[m] = k
        return ({m: True for m in seq_lens}, keep)


@dataclass(frozen=True)
class SampleModalityRate:
    """CPM-Net / GCNet: a fraction ``eta`` of (sample, modality) entries is missing.

    Each sample loses k modalities, with k = floor(eta*M) or that + 1 so that E[k] = eta*M
    exactly, chosen uniformly; at least one modality is always kept (eta <= (M-1)/M) — one the
    sample has in the data when the draw kept only naturally absent ones (never on complete
    samples, whose draws are unchanged).
    """

    eta: float

    def __post_init__(self) -> None:
        # at most (M-1)/M with M <= 3 modalities; the exact bound is checked per dataset
        if not 0.0 <= float(self.eta) <= MAX_ETA + 1e-9:
            raise ValueError(f"eta must be in [0, {MAX_ETA:.3f}] (at least one of 3 modalities "
                             f"is always kept); got {self.eta}")

    @property
    def key(self) -> str:
        return f"eta:{self.eta:g}"

    @property
    def is_random(self) -> bool:
        return self.eta > 0.0

    empties_all = False

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        mods = list(seq_lens)
        m_count = len(mods)
        if not 0 <= self.eta <= (m_count - 1) / m_count + 1e-9:
            raise ValueError(f"eta must be in [0, {(m_count - 1) / m_count:.3f}]; got {self.eta}")
        base = int(np.floor(self.eta * m_count + 1e-9))
        frac = self.eta * m_count - base
        k = base + int(rng.random() < frac)
        k = min(k, m_count - 1)
        drop = set(rng.choice(m_count, size=k, replace=False).tolist()) if k else set()
        pres = {m: i not in drop for i, m in enumerate(mods)}
        _keep_one_real(rng, pres, lengths)
        return (pres, {m: np.ones(seq_lens[m], bool) for m in mods})


@dataclass(frozen=True)
class ModalityRandomDrop:
    """Each modality is removed whole with its own probability; at least one is kept (one the
    sample has in the data, when it lacks some)."""

    rates: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for m, r in self.rates:
            if m not in MODALITIES:
                raise ValueError(f"unknown modality {m!r}")
            if m in seen:
                raise ValueError(f"modality {m!r} given twice")
            seen.add(m)
            _check_rate(f"drop probability of {m}", r)

    @property
    def key(self) -> str:
        return "mdrop:" + ",".join(f"{m}={r:g}" for m, r in self.rates)

    @property
    def is_random(self) -> bool:
        return any(r > 0.0 for _, r in self.rates)

    empties_all = False

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        mods = list(seq_lens)
        rates = dict(self.rates)
        pres = {m: bool(rng.random() >= rates.get(m, 0.0)) for m in mods}
        _keep_one_real(rng, pres, lengths)
        return (pres, {m: np.ones(seq_lens[m], bool) for m in mods})


@dataclass(frozen=True)
class LNLNTrain:
    """LNLN's training corruption: per-sample per-modality frame rate ~ U(0, max_rate); a
    random half of the samples stays complete (drawn per sample, not per dataset)."""

    max_rate: float = 1.0
    is_random = True
    empties_all = False

    def __post_init__(self) -> None:
        _check_rate("max_rate", self.max_rate)

    @property
    def key(self) -> str:
        return f"lnln:{self.max_rate:g}"

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        clean = rng.random() < 0.5
        keep = {}
        for m, t in seq_lens.items():
            r = 0.0 if clean else float(rng.random()) * self.max_rate
            keep[m] = _drop_frames(rng, lengths[m], t, r, exact=False)
        return ({m: True for m in seq_lens}, keep)


@dataclass(frozen=True)
class MRM:
    """CorrKD's Modality Random Missing (training only).

    Per sample: draw the available subset uniformly from the 2^M - 1 non-empty subsets (the
    complete set included, as in the spec's suggestion) of the modalities the sample has in the
    data (length > 0; all of them for complete data, so nothing changes there; on naturally
    incomplete data no draw asks only for modalities the sample lacks), then for every available modality
    draw an intra-modality ratio r uniformly from ``ratios`` and zero floor(r * length)
    randomly chosen valid frames.

    Args:
        ratios: the grid of intra-modality ratios (spec: 0.0, 0.1, ..., 0.9).
        subset_probs: optional weights per subset name (e.g. ``(("tav", 2.0),)``); others 1.
        shared_frames: drop the same positions in every modality (aligned data).
        generator: 2 (default) draws every sample at once from a counter-based generator
            keyed by the sample (`draw_batch`, ~30x faster per epoch); 1 is the original
            per-sample NumPy generator (`draw_row`; same distribution, other masks).
    """

    ratios: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(10))
    subset_probs: tuple[tuple[str, float], ...] = ()
    shared_frames: bool = False
    generator: int = 2

    is_random = True
    empties_all = False

    def __post_init__(self) -> None:
        if self.generator not in (1, 2):
            raise ValueError(f"MRM generator must be 1 (per-sample NumPy) or 2 (counter); got {self.generator}")

    @property
    def vectorised(self) -> bool:
        return self.generator == 2

    @property
    def key(self) -> str:
        sp = ",".join(f"{k}={w:g}" for k, w in self.subset_probs)
        v = "" if self.generator == 1 else f"|v{self.generator}"
        return f"mrm:{','.join(f'{r:g}' for r in self.ratios)}|{sp}|{int(self.shared_frames)}{v}"

    def _subsets(self, mods: tuple[str, ...]) -> tuple[list[tuple[str, ...]], np.ndarray]:
        """The non-empty subsets of ``mods`` (the modalities a sample has) and their weights."""
        subs = all_subsets(mods)
        w = dict(self.subset_probs)
        p = np.array([w.get(subset_name(s), 1.0) for s in subs], dtype=np.float64)
        return subs, p / p.sum()

    def draw_batch(self, keys: np.ndarray, lengths: dict[str, np.ndarray],
                   seq_lens: dict[str, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """All samples at once (generator 2): (N, M) present, modality -> (N, T) keep.

        Same distribution as `draw_row`: subset by inverse CDF of one uniform; ratio by one
        uniform per modality; the floor(r * length) dropped frames are the valid frames with
        the smallest random keys (a uniform k-subset without replacement).
        """
        mods = tuple(seq_lens)
        u0 = counter_uniforms(keys, 1, 0)[:, 0]
        has = np.stack([lengths[m] > 0 for m in mods], 1)  # (N, M) modalities each sample has
        present = np.zeros((len(keys), len(mods)), dtype=bool)
        for pattern in np.unique(has, axis=0):  # subsets among what the sample has (<= 2^M)
            rows = (has == pattern).all(1)
            subs, p = self._subsets(tuple(m for m, h in zip(mods, pattern, strict=True) if h) or mods)
            cdf = np.cumsum(p)
            pick = np.minimum(np.searchsorted(cdf / cdf[-1], u0[rows], side="right"), len(subs) - 1)
            table = np.array([[m in sub for m in mods] for sub in subs], dtype=bool)  # (S, M)
            present[rows] = table[pick]
        ratios = np.asarray(self.ratios, dtype=np.float64)
        keep = {}
        if self.shared_frames:
            r = ratios[(counter_uniforms(keys, 1, 1)[:, 0] * len(ratios)).astype(np.int64)]
            t = max(seq_lens.values())
            u = counter_uniforms(keys, t, 2)  # (N, T)
            for m in mods:
                valid = np.arange(seq_lens[m])[None, :] < lengths[m][:, None]
                keep[m] = (u[:, : seq_lens[m]] >= r[:, None]) | ~valid
            return present, keep
        for j, m in enumerate(mods):
            t = seq_lens[m]
            r = ratios[(counter_uniforms(keys, 1, 10 + j)[:, 0] * len(ratios)).astype(np.int64)]
            k = np.floor(r * lengths[m] + 1e-9).astype(np.int64)  # (N,) frames to drop
            valid = np.arange(t)[None, :] < lengths[m][:, None]
            score = np.where(valid, counter_uniforms(keys, t, 20 + j), 2.0)  # invalid: never
            rank = np.argsort(np.argsort(score, axis=1, kind="stable"), axis=1, kind="stable")
            keep[m] = rank >= k[:, None]
        return present, keep

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        """One sample from its own NumPy generator (generator 1, the original sampler)."""
        mods = tuple(seq_lens)
        subs, p = self._subsets(tuple(m for m in mods if lengths[m] > 0) or mods)
        sub = subs[int(rng.choice(len(subs), p=p))]
        keep = {}
        if self.shared_frames:
            r = float(rng.choice(self.ratios))
            t = max(seq_lens.values())
            u = rng.random(t)
            for m in mods:
                keep[m] = (u[: seq_lens[m]] >= r) | ~_valid(lengths[m], seq_lens[m])
        else:
            for m in mods:
                r = float(rng.choice(self.ratios))
                keep[m] = _drop_frames(rng, lengths[m], seq_lens[m], r, exact=True)
        return ({m: m in sub for m in mods}, keep)


@dataclass(frozen=True)
class TextSubstitute:
    """DFSD/SDUMC protocol: text is missing and replaced by its substitute stream.

    As a mask it removes text; methods that own a substitute (``extras["text_sim"]``) use it.
    """

    uses_rng: ClassVar[bool] = False  # row ignores rng and lengths: drawn vectorised
    is_random = False  # the mask does not depend on the seed
    empties_all = False  # never leaves every clip with no input

    @property
    def key(self) -> str:
        return "text_substitute"

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        return ({m: m != "text" for m in seq_lens}, {m: np.ones(seq_lens[m], bool) for m in seq_lens})




@dataclass(frozen=True)
class RandomSubset:
    """MMIN's training missingness: each sample keeps one of ``subsets`` (default: the 2^M - 2
    incomplete non-empty subsets, i.e. the six conditions t, a, v, ta, tv, av), uniformly; the
    complete condition is never drawn unless listed. No frames are dropped.

    Natural missingness: the draw is among what the sample has (length > 0). By default every
    non-empty subset of its modalities that is incomplete for the data (a sample without text
    draws among a, v, av; a complete sample among the six, unchanged); listed subsets are cut
    to the sample's modalities, empty ones skipped, and a sample none of them fits keeps one
    of its own modalities, chosen uniformly. A naturally absent modality is never asked for.

    Args:
        subsets: subset names (``("t", "ta")``); empty = every incomplete non-empty subset of
            the data's modalities.
    """

    subsets: tuple[str, ...] = ()
    is_random = True
    empties_all = False

    def __post_init__(self) -> None:
        for name in self.subsets:
            parse_subset(name)

    @property
    def key(self) -> str:
        names = "/".join(subset_name(parse_subset(n)) for n in self.subsets)
        return f"random_subset:{names}"

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        mods = tuple(seq_lens)
        have = tuple(m for m in mods if lengths[m] > 0) or mods  # what the sample has
        if self.subsets:
            cut = [tuple(m for m in parse_subset(n) if m in have) for n in self.subsets]
            subs = [sub for sub in cut if sub] or [(m,) for m in have]
        else:
            subs = [sub for sub in all_subsets(have) if len(sub) < len(mods)] or [have]
        sub = subs[int(rng.integers(len(subs)))]
        return ({m: m in sub for m in mods}, {m: np.ones(seq_lens[m], bool) for m in mods})


@dataclass(frozen=True)
class SevereMissing:
    """SMIL's "severely missing" training data: modality m is absent for a fraction r_m of the
    samples (each sample independently with probability r_m), **fixed per sample**: the mask
    depends on (seed, split, sample id) only, not on the epoch (``static``), so the model never
    sees the removed features. At least one modality the sample has (length > 0) is kept: if
    the draw removed all of them, the one of them with the lowest rate (first in canonical
    order) is kept; a naturally absent modality is never the one kept. Complete samples'
    draws are those of complete data. No frames are dropped.

    Args:
        rates: (modality, rate) pairs, e.g. ``(("text", 0.9),)`` for SMIL's MOSI loader
            (text kept for 10 % of the training samples).
    """

    rates: tuple[tuple[str, float], ...]
    static: ClassVar[bool] = True
    is_random = True
    empties_all = False

    def __post_init__(self) -> None:
        if not self.rates:
            raise ValueError("severe needs at least one MODALITY=RATE")
        for m, r in self.rates:
            if m not in MODALITIES:
                raise ValueError(f"unknown modality {m!r}")
            _check_rate(f"rate for {m}", r)

    @property
    def key(self) -> str:
        return "severe:" + ",".join(f"{m}={r:g}" for m, r in self.rates)

    def draw_row(self, rng, lengths, seq_lens) -> Row:
        mods = list(seq_lens)
        rates = dict(self.rates)
        u = rng.random(len(mods))
        pres = {m: bool(u[i] >= rates.get(m, 0.0)) for i, m in enumerate(mods)}
        have = [m for m in mods if lengths[m] > 0] or mods
        if not any(pres[m] for m in have):
            pres[min(have, key=lambda m: (rates.get(m, 0.0), mods.index(m)))] = True
        return (pres, {m: np.ones(seq_lens[m], bool) for m in mods})
