"""Named evaluation protocols: each is a list of condition strings plus optional summaries.

| Protocol | Conditions | Summary records |
|---|---|---|
| ``subsets`` | complete, t, a, v, ta, tv, av (CorrKD Table 1 layout; ``tav`` = complete) | ``avg_incomplete``: mean over the 6 incomplete subsets ("Avg.") |
| ``frame_drop`` | frame:0.0 ... frame:1.0 (step 0.1), intra-modality, all modalities | ``auc``: normalised area under metric-vs-rate |
| ``eta`` | eta:0.0 ... eta:0.6 (CPM / GCNet sample x modality rate) | ``auc`` |
| ``block`` | block:0.0 ... block:1.0 (OpenVNA block drop) | ``auc`` |
| ``lnln`` | frame:0.0 ... frame:0.9 (LNLN's test rates, one rate for all modalities) | ``mean`` (LNLN robustness score) |
| ``text_substitute`` | complete, text_substitute (DFSD/SDUMC protocol) | — |
"""

from __future__ import annotations

from dataclasses import dataclass

from robustmsa.errors import UnknownNameError
from robustmsa.missing.protocols import parse_subset

INCOMPLETE_SUBSETS: tuple[str, ...] = ("t", "a", "v", "ta", "tv", "av")


def incomplete_subsets(modalities: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The incomplete subset conditions of a dataset with these modalities (non-empty proper
    subsets, canonical names, in ``INCOMPLETE_SUBSETS`` order); all six when ``None``.

    A text-only dataset has none; an audio+vision dataset has ``a`` and ``v``.
    """
    if modalities is None:
        return INCOMPLETE_SUBSETS
    have = set(modalities)
    out = []
    for c in INCOMPLETE_SUBSETS:
        mods = set(parse_subset(c))
        if mods <= have and mods != have:
            out.append(c)
    return tuple(out)


def _grid(prefix: str, stop: int) -> tuple[str, ...]:
    return tuple(f"{prefix}:{i / 10:.1f}" for i in range(stop + 1))


@dataclass(frozen=True)
class Protocol:
    name: str
    conditions: tuple[str, ...]
    summary: str = ""  # "avg_incomplete" | "auc" | "mean" | ""

    def rate(self, condition: str) -> float:
        return float(condition.split(":")[1])


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("subsets", ("complete",) + INCOMPLETE_SUBSETS, "avg_incomplete"),
        Protocol("frame_drop", _grid("frame", 10), "auc"),
        Protocol("eta", _grid("eta", 6), "auc"),
        Protocol("block", _grid("block", 10), "auc"),
        Protocol("lnln", _grid("frame", 9), "mean"),
        Protocol("text_substitute", ("complete", "text_substitute")),
    )
}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise UnknownNameError(f"unknown protocol {name!r}; valid: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
