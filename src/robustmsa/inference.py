"""Rebuild a trained method from its checkpoint alone, and predict on features.

`load_method` gives the method (deployable weights loaded, no teacher needed) for evaluation;
`Predictor` wraps it for single-sample inference from raw feature arrays, treating an absent
modality as missing. Both feed data only through
`robustmsa.data.prepare.prepare_for_checkpoint`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from robustmsa.config import ExperimentConfig, dataclass_from_dict
from robustmsa.data.dataset import collate_rows
from robustmsa.data.prepare import check_data_fits, checkpoint_info, prepare_for_checkpoint
from robustmsa.data.schema import MSADataset, MSASplit
from robustmsa.engine.builder import build_method, checkpoint_config
from robustmsa.engine.checkpoint import load_checkpoint
from robustmsa.errors import CheckpointError, ConfigError, DataError
from robustmsa.methods import Method
from robustmsa.types import MODALITIES, Batch

__all__ = ["Predictor", "check_data_fits", "load_method"]


def load_method(path: str | Path, device: str | torch.device = "cpu",
                missing_input: str | None = None) -> tuple[Method, dict]:
    """(method in eval mode, checkpoint dict) from a ``best.pt`` / ``last.pt``.

    The method remembers its checkpoint (``method.checkpoint_``, ``method.checkpoint_path_``)
    so `robustmsa.evaluation.api.evaluate_method` prepares raw data for it by itself.
    ``missing_input`` runs the weights under another missing-input convention ("zeros" |
    "mask"; default: the one the checkpoint was trained with, "mask" for checkpoints older
    than the option).
    """
    ck = load_checkpoint(path)
    try:
        cfg = dataclass_from_dict(ExperimentConfig, checkpoint_config(ck, missing_input), "config")
    except ConfigError as e:
        raise CheckpointError(f"{path}: field 'config': {e}") from None
    info = checkpoint_info(ck, str(path))
    method = build_method(cfg, info, for_training=False)
    try:
        method.deployable().load_state_dict(ck["student"])
    except RuntimeError as e:
        msg = " ".join(str(e).split())[:300]
        raise CheckpointError(f"{path}: weights do not fit method {ck['method']!r}: {msg}") from None
    method.checkpoint_ = ck
    method.checkpoint_path_ = str(path)
    return method.to(device).eval(), ck


class Predictor:
    """Single-sample inference from a checkpoint.

    Features go through `robustmsa.data.prepare.prepare_for_checkpoint` (the checkpoint's
    standardisation, layout checks) and `collate_rows`, exactly as in ``evaluate``.

    Example:
        >>> p = Predictor.from_checkpoint("runs/corrkd/best.pt")
        >>> p.predict_features({"text": np.zeros((20, 300)), "audio": np.zeros((20, 5))})
    """

    def __init__(self, method: Method, checkpoint: dict, path: str = "checkpoint") -> None:
        self.method_ = method
        self.checkpoint_ = checkpoint
        self.path_ = path
        self.info_ = method.info
        self.task_ = method.task

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> Predictor:
        m, ck = load_method(path, device)
        return cls(m, ck, str(path))

    @property
    def extractor(self) -> dict:
        """Raw-media extractor config the model was trained with ({} if none)."""
        return dict(self.checkpoint_.get("extractor") or {})

    def _raw_split(self, features: dict[str, np.ndarray], present: dict[str, bool] | None,
                   lengths: dict[str, int] | None,
                   valid: dict[str, np.ndarray] | None = None) -> MSASplit:
        """One raw sample padded to the model's sequence lengths (absent = length 0)."""
        present = present or {}
        lengths = lengths or {}
        valid = valid or {}
        unknown = set(features) - set(self.info_.modalities)
        if unknown:
            raise DataError(f"unknown modality(ies) {sorted(unknown)}; model uses "
                            f"{list(self.info_.modalities)}")
        for what, given in (("lengths", lengths), ("valid", valid)):
            bad = set(given) - set(self.info_.modalities)
            if bad:
                raise DataError(f"{what}: unknown modality(ies) {sorted(bad)}")
        both = sorted(set(lengths) & set(valid))
        if both:
            raise DataError(f"give lengths or valid for a modality, not both: {both}")
        feats, lens, fvalid = {}, {}, {}
        for m in self.info_.modalities:
            d, t_max = self.info_.dims[m], max(1, self.info_.seq_lens[m])
            x = features.get(m)
            arr = np.zeros((1, t_max, d), np.float32)
            n = 0
            if x is not None and present.get(m, True):
                x = np.asarray(x, dtype=np.float32)
                if x.ndim == 1:
                    x = x[None, :]
                if x.ndim != 2 or x.shape[1] != d:
                    raise DataError(f"modality {m!r}: expected (T, {d}) features, got {x.shape}")
                if not np.isfinite(x).all():
                    raise DataError(f"modality {m!r}: features contain NaN or ±inf")
                if m in valid:  # explicit frame mask: frames outside it are missing
                    v = np.asarray(valid[m])
                    if v.dtype != bool or v.shape != (x.shape[0],):
                        raise DataError(f"valid[{m!r}] must be a ({x.shape[0]},) bool array "
                                        f"(one flag per row given); got {v.dtype} {v.shape}")
                    fv = np.zeros((1, t_max), dtype=bool)
                    fv[0, :min(t_max, len(v))] = v[:t_max]
                    nz = np.flatnonzero(fv[0])
                    n = int(nz[-1]) + 1 if len(nz) else 0
                    fvalid[m] = fv
                elif m in lengths:
                    n = int(lengths[m])
                    if not 0 <= n <= x.shape[0]:
                        raise DataError(f"lengths[{m!r}] = {n} is outside [0, {x.shape[0]}] "
                                        "(the rows given)")
                else:  # a zero-padded dataset row: trailing all-zero frames are padding
                    nz = np.flatnonzero(np.any(x != 0, axis=1))
                    n = int(nz[-1]) + 1 if len(nz) else 0
                n = min(n, t_max)
                arr[0, :n] = x[:n]
            feats[m] = arr
            lens[m] = np.array([n], dtype=np.int64)
            if m in valid and m not in fvalid:  # not given or present=False: absent
                fvalid[m] = np.zeros((1, t_max), dtype=bool)
        return MSASplit(features=feats, lengths=lens, labels=np.zeros(1, np.float32),
                        ids=np.array(["input"]), frame_valid=fvalid)

    def make_batch(self, features: dict[str, np.ndarray], present: dict[str, bool] | None = None,
                   lengths: dict[str, int] | None = None,
                   valid: dict[str, np.ndarray] | None = None) -> Batch:
        """One-sample batch as the model sees it (prepared for the checkpoint); absent,
        ``present=False`` or zero-length modalities are zero and not present."""
        split = self._raw_split(features, present, lengths, valid)
        raw = MSADataset({"input": split}, info=replace(self.info_, name="predictor input",
                                                        source="features"))
        prepared = prepare_for_checkpoint(self.checkpoint_, raw, source=self.path_)
        return collate_rows(prepared["input"], [0])

    @torch.no_grad()
    def predict_features(self, features: dict[str, np.ndarray],
                         present: dict[str, bool] | None = None,
                         lengths: dict[str, int] | None = None,
                         valid: dict[str, np.ndarray] | None = None) -> dict:
        """{"score", "probs", "class_names", "modalities_used"} for one sample.

        Args:
            features: modality -> (T, D) raw (unstandardised) features; an absent modality
                is missing. Rows past ``T_max`` of the checkpoint are cut.
            present: modality -> False marks a given modality missing.
            lengths: modality -> number of valid rows; rows after it are padding. Without it,
                trailing all-zero rows are padding (a zero-padded dataset row, as
                ``data["test"].features[m][i]``); pass the length to keep valid all-zero
                rows (raw-media callers do). All-zero rows *before* the last non-zero one
                are real frames under this rule.
            valid: modality -> (T,) bool explicit frame mask, for data whose missing frames
                sit anywhere (`MSASplit.frame_valid`, the MFN releases: pass
                ``data["test"].valid_mask(m)[i]`` with a dataset row to get exactly what
                ``evaluate`` computes); rows outside it are missing. Not with ``lengths``.
        """
        batch = self.make_batch(features, present, lengths, valid)
        pred = self.method_.predict(batch.to(next(self.method_.parameters()).device))
        used = [m for j, m in enumerate(self.info_.modalities) if bool(batch.present[0, j])]
        score = pred.score[0]
        return {  # a multi-target model's score is one value per target (task.target_names)
            "score": float(score) if score.ndim == 0 else [float(v) for v in score],
            "probs": pred.probs[0].tolist() if pred.probs is not None else None,
            "class_names": list(self.task_.class_names),
            "modalities_used": used,
            "modalities_missing": [m for m in MODALITIES if m not in used],
        }
