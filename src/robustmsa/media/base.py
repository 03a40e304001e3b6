"""Shared pieces of the feature extractors: the per-modality result and the extractor base.

An extractor is built from a config dataclass, loads its model lazily (once per object; reuse
the object to load it once per process) and describes itself with `Extractor.describe`, a
JSON-serialisable dict stored with datasets and checkpoints::

    {"name": "psf", "modality": "audio", "dim": 41, "version": 1,
     "config": {...fields that change the feature values...},
     "runtime": {...fields that do not (batch size, missing-modality thresholds)...}}

Two descriptions are *compatible* when ``name``, ``modality``, ``dim``, ``version`` and
``config`` are equal (`describe_mismatch`); ``runtime`` is informative only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from robustmsa.errors import ConfigError


@dataclass
class ModalityFeatures:
    """The features of one modality of one clip.

    Attributes:
        modality: ``"text"``, ``"audio"`` or ``"vision"``.
        features: (T, D) float32; (0, D) when the modality is missing.
        present: whether the modality was found.
        reason: why it is missing (empty when present), e.g. ``"no audio stream"``.
        frame_mask: (T,) bool, False for frames without valid content (e.g. no face found);
            their feature rows are zero.
        stats: small JSON-serialisable facts (duration, face fraction, RMS, token count, ...).
        times: (T,) time in seconds of each row (frame centre) for frame-level features;
            None for text. Used to align frames to words (`robustmsa.media.align`).
    """

    modality: str
    features: np.ndarray
    present: bool
    reason: str = ""
    frame_mask: np.ndarray | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    times: np.ndarray | None = None

    @classmethod
    def missing(cls, modality: str, dim: int, reason: str, **stats: Any) -> ModalityFeatures:
        """A missing modality: (0, dim) features and the reason."""
        return cls(
            modality=modality,
            features=np.zeros((0, dim), dtype=np.float32),
            present=False,
            reason=reason,
            frame_mask=np.zeros(0, dtype=bool),
            stats=dict(stats),
        )

    @property
    def length(self) -> int:
        return int(self.features.shape[0])


class Extractor:
    """Base class of feature extractors.

    Subclasses set ``name``, ``modality``, ``Config`` (a dataclass; fields listed in
    ``RUNTIME_FIELDS`` do not change feature values) and ``VERSION`` (bumped whenever the
    feature computation changes), and implement `dim`.
    """

    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    Config: ClassVar[type] = object
    VERSION: ClassVar[int] = 1
    RUNTIME_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any | None = None, **overrides: Any) -> None:
        if config is None:
            config = self.Config()
        if overrides:
            valid = {f.name for f in fields(self.Config)}
            bad = sorted(set(overrides) - valid)
            if bad:
                raise ConfigError(
                    f"extractor {self.name!r}: unknown option(s) {', '.join(bad)}; "
                    f"valid: {', '.join(sorted(valid))}"
                )
            config = type(config)(**{**asdict(config), **overrides})
        self.config = config

    @property
    def dim(self) -> int:
        """Feature width D."""
        raise NotImplementedError

    def feature_names(self) -> list[str] | None:
        """Names of the D feature columns, when they have names."""
        return None

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description stored with datasets and checkpoints."""
        cfg = asdict(self.config)
        return {
            "name": self.name,
            "modality": self.modality,
            "dim": int(self.dim),
            "version": int(self.VERSION),
            "config": {k: v for k, v in cfg.items() if k not in self.RUNTIME_FIELDS},
            "runtime": {k: v for k, v in cfg.items() if k in self.RUNTIME_FIELDS},
        }


COMPARED_KEYS: tuple[str, ...] = ("name", "modality", "dim", "version", "config")


def describe_mismatch(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Differences between two extractor descriptions, as readable lines (empty: compatible)."""
    out = []
    for k in COMPARED_KEYS:
        if k == "config":
            e, a = expected.get(k) or {}, actual.get(k) or {}
            for ck in sorted(set(e) | set(a)):
                if e.get(ck) != a.get(ck):
                    out.append(f"config.{ck}: expected {e.get(ck)!r}, got {a.get(ck)!r}")
        elif expected.get(k) != actual.get(k):
            out.append(f"{k}: expected {expected.get(k)!r}, got {actual.get(k)!r}")
    return out
