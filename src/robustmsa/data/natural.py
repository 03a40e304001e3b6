"""Natural missingness: what the data itself lacks, before any simulated condition.

A modality is *naturally absent* for a sample when its length is 0 (no non-zero frame in the
release, or no file for the split); a frame is *naturally missing* when it is not in the
split's valid-frame mask (`MSASplit.valid_mask`). Simulated conditions (`robustmsa.missing`)
act on top of this and never restore anything; reports print these rates next to the
simulated ones, and the per-condition ``coverage`` records say how many samples really have
what a condition asks for.

A method that cannot learn without some modality declares it in ``Method.train_requires``;
`check_trainable` turns a training split that lacks it entirely into one clear error.
"""

from __future__ import annotations

import logging

import numpy as np

from robustmsa.data.schema import MSADataset, MSASplit
from robustmsa.errors import ConfigError

logger = logging.getLogger(__name__)


def split_missing(split: MSASplit) -> dict[str, dict[str, float]]:
    """modality -> {"absent": fraction of samples without it, "frames_missing": fraction of
    missing steps among the padded steps of the samples that have it, "valid_steps": mean
    valid steps of those samples}."""
    out = {}
    for m in split.modalities:
        valid = split.valid_mask(m)  # (N, T)
        has = np.asarray(split.lengths[m]) > 0
        steps = valid[has].sum(1) if has.any() else np.zeros(0)
        out[m] = {
            "absent": float((~has).mean()),
            "frames_missing": float(1.0 - steps.mean() / valid.shape[1]) if has.any()
            else float("nan"),
            "valid_steps": float(steps.mean()) if has.any() else 0.0,
        }
    return out


def natural_missing(ds: MSADataset) -> dict[str, dict[str, dict[str, float]]]:
    """split -> modality -> rates (see `split_missing`)."""
    return {name: split_missing(sp) for name, sp in ds.splits.items()}


def absent_modalities(split: MSASplit) -> tuple[str, ...]:
    """Modalities that no sample of ``split`` has (e.g. text in ICT-MMMO's train split)."""
    return tuple(m for m in split.modalities if not (np.asarray(split.lengths[m]) > 0).any())


def check_trainable(method, split: MSASplit, *, dataset: str) -> None:
    """Refuse to train ``method`` on a training split lacking a modality it requires; log the
    modalities no training sample has (their encoders get no training signal).

    Raises:
        ConfigError: one line naming the method, the dataset and the missing modality.
    """
    absent = absent_modalities(split)
    for m in getattr(method, "train_requires", ()):
        if m in absent:
            raise ConfigError(
                f"method {method.name!r} cannot train on {dataset!r} [train]: modality {m!r} is "
                f"absent from every training sample and {method.name} needs it "
                f"({getattr(method, 'train_requires_why', 'see its docstring')})")
    if absent:
        logger.warning("%s [train]: no training sample has %s; the model learns nothing for "
                       "it (evaluate on conditions without it)", dataset, ", ".join(absent))


def format_missing_table(rates: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown table: split x modality -> absent % / missing steps %."""
    mods: list[str] = []
    for r in rates.values():
        mods += [m for m in r if m not in mods]
    head = "| Split | " + " | ".join(f"{m}: absent / missing steps" for m in mods) + " |"
    lines = [head, "|" + "---|" * (len(mods) + 1)]
    for split, r in rates.items():
        cells = []
        for m in mods:
            e = r.get(m)
            if e is None:
                cells.append("—")
                continue
            fm = "—" if np.isnan(e["frames_missing"]) else f"{100 * e['frames_missing']:.1f} %"
            cells.append(f"{100 * e['absent']:.1f} % / {fm}")
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def conditions_for(conditions: tuple[str, ...], modalities: tuple[str, ...]) -> tuple[str, ...]:
    """``conditions`` without the subset conditions that ask for a modality the dataset does
    not have at all (e.g. ``t``, ``ta``, ``tv`` on audio + vision data); others unchanged."""
    from robustmsa.missing import parse_subset

    out = []
    for c in conditions:
        try:
            mods = parse_subset(c)
        except ValueError:
            out.append(c)  # not a subset condition
            continue
        if c in ("complete",) or all(m in modalities for m in mods):
            out.append(c)
    return tuple(out)
