"""Seeded missing-modality engine: one API for every protocol family of the field.

Conditions are written as short strings (``robustmsa evaluate --condition ...``):

| String | Sampler |
|---|---|
| ``complete`` | `Complete` |
| ``t``, ``a``, ``v``, ``ta``, ``tv``, ``av``, ``tav`` | `Subset` (letters in any order) |
| ``frame:P`` / ``frame:P:shared`` / ``frame:P:exact`` | `FrameDrop` (per-modality overrides: ``frame:P:text=0``) |
| ``block:P`` | `BlockDrop` |
| ``eta:E`` | `SampleModalityRate` (CPM / GCNet) |
| ``mdrop:text=0.3,audio=0.5`` | `ModalityRandomDrop` |
| ``lnln`` / ``lnln:MAX`` | `LNLNTrain` |
| ``mrm`` | `MRM` (CorrKD training sampler) |
| ``text_substitute`` | `TextSubstitute` (DFSD "text missing with substitute") |
| ``random_subset`` / ``random_subset:t/ta/av`` | `RandomSubset` (MMIN training: one of the 6 incomplete subsets) |
| ``severe:text=0.9`` | `SevereMissing` (SMIL training: text absent for 90 % of the samples, fixed across epochs) |
"""

from __future__ import annotations

from robustmsa.errors import ConfigError
from robustmsa.missing.masks import (
    MissingMask,
    apply_missing,
    coverage,
    draw_mask,
    draw_split_mask,
    stable_hash,
)
from robustmsa.missing.protocols import (
    MRM,
    BlockDrop,
    Complete,
    FrameDrop,
    LNLNTrain,
    ModalityRandomDrop,
    RandomSubset,
    SampleModalityRate,
    SevereMissing,
    Subset,
    TextSubstitute,
    all_subsets,
    parse_subset,
    subset_name,
)

__all__ = [
    "MRM", "BlockDrop", "Complete", "FrameDrop", "LNLNTrain", "MissingMask",
    "ModalityRandomDrop", "RandomSubset", "SampleModalityRate", "SevereMissing", "Subset",
    "TextSubstitute", "all_subsets", "apply_missing", "coverage", "draw_mask", "draw_split_mask",
    "parse_condition", "parse_subset", "stable_hash",
    "subset_name",
]


def _float(s: str, cond: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise ValueError(f"condition {cond!r}: {s!r} is not a number") from None


def _pairs(s: str, cond: str) -> tuple[tuple[str, float], ...]:
    out = []
    for part in s.split(","):
        if "=" not in part:
            raise ValueError(f"condition {cond!r}: expected MODALITY=RATE, got {part!r}")
        m, r = part.split("=", 1)
        m = parse_subset(m.strip())
        if len(m) != 1:
            raise ValueError(f"condition {cond!r}: {part!r} must name one modality")
        out.append((m[0], _float(r, cond)))
    return tuple(out)


def parse_condition(cond: str):
    """Turn a condition string (table in the module docstring) into a sampler.

    Raises:
        ConfigError: (a `ValueError`) naming the condition string when it is invalid.
    """
    try:
        return _parse_condition(cond)
    except ConfigError:
        raise
    except ValueError as e:
        msg = str(e)
        raise ConfigError(msg if repr(cond) in msg else f"condition {cond!r}: {msg}") from None


def _parse_condition(cond: str):
    c = cond.strip()
    head, _, rest = c.partition(":")
    if c == "complete":
        return Complete()
    if head == "frame":
        parts = rest.split(":")
        rate = _float(parts[0], c)
        shared = exact = False
        overrides: tuple[tuple[str, float], ...] = ()
        for opt in parts[1:]:
            if opt == "shared":
                shared = True
            elif opt == "exact":
                exact = True
            elif "=" in opt:
                overrides = _pairs(opt, c)
            else:
                raise ValueError(f"condition {c!r}: unknown option {opt!r}")
        return FrameDrop(rate, overrides=overrides, shared=shared, exact=exact)
    if head == "block":
        return BlockDrop(_float(rest, c))
    if head == "eta":
        return SampleModalityRate(_float(rest, c))
    if head == "mdrop":
        return ModalityRandomDrop(_pairs(rest, c))
    if head == "lnln":
        return LNLNTrain(_float(rest, c)) if rest else LNLNTrain()
    if c == "mrm":
        return MRM()
    if head == "random_subset":
        return RandomSubset(tuple(p for p in rest.split("/") if p) if rest else ())
    if head == "severe":
        return SevereMissing(_pairs(rest, c))
    if c == "text_substitute":
        return TextSubstitute()
    try:
        return Subset(subset_name(parse_subset(c)))
    except ValueError:
        raise ValueError(
            f"unknown condition {cond!r}; use complete, t/a/v/ta/tv/av/tav, frame:P, block:P, "
            "eta:E, mdrop:m=r,..., lnln, mrm, random_subset, severe:m=r,..., text_substitute"
        ) from None
