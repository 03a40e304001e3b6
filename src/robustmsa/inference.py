"""Rebuild a trained method from its checkpoint alone, and predict on features.

`load_method` gives the method (deployable weights loaded, no teacher needed) for evaluation;
`Predictor` wraps it for single-sample inference from feature arrays, treating an absent
modality as missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robustmsa.config import ExperimentConfig, dataclass_from_dict
from robustmsa.data.schema import DatasetInfo
from robustmsa.engine.builder import build_method
from robustmsa.engine.checkpoint import load_checkpoint
from robustmsa.errors import CheckpointError, DataError
from robustmsa.methods import Method
from robustmsa.types import MODALITIES, Batch


def load_method(path: str | Path, device: str | torch.device = "cpu") -> tuple[Method, dict]:
    """(method in eval mode, checkpoint dict) from a ``best.pt`` / ``last.pt``."""
    ck = load_checkpoint(path)
    cfg = dataclass_from_dict(ExperimentConfig, ck["config"], f"{path}: config")
    info = DatasetInfo.from_dict(ck["dataset_info"])
    method = build_method(cfg, info, for_training=False)
    try:
        method.deployable().load_state_dict(ck["student"])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit method {ck['method']!r}: {e}") from None
    return method.to(device).eval(), ck


def check_data_fits(checkpoint: str | Path, trained_on: DatasetInfo, data: DatasetInfo) -> None:
    """Raise `CheckpointError` unless ``data`` has the features the model was trained on, and
    is the same cross-validation fold when the model was trained on one."""
    if trained_on.cv and dict(data.cv) != dict(trained_on.cv):
        cv = trained_on.cv
        raise CheckpointError(
            f"{checkpoint}: trained on cross-validation fold {cv['fold']} of {cv['folds']} "
            f"(pool {'+'.join(cv['pool'])}, seed {cv['seed']}); evaluate it on that fold "
            f"(data.cv_folds={cv['folds']} data.cv_fold={cv['fold']}): dataset "
            f"{data.name!r} is {'fold ' + str(data.cv.get('fold')) if data.cv else 'not a CV fold'}"
            ", whose test samples overlap this model's training data")
    for m, d in trained_on.dims.items():
        got = data.dims.get(m)
        if got is None:
            raise CheckpointError(
                f"{checkpoint}: the model uses {m} features but dataset {data.name!r} has no {m}"
            )
        if got != d:
            raise CheckpointError(
                f"{checkpoint}: the model expects {m} features of width {d} (trained on "
                f"{trained_on.name!r}) but dataset {data.name!r} has width {got}"
            )


class Predictor:
    """Single-sample inference from a checkpoint.

    Example:
        >>> p = Predictor.from_checkpoint("runs/corrkd/best.pt")
        >>> p.predict_features({"text": np.zeros((20, 300)), "audio": np.zeros((20, 5))})
    """

    def __init__(self, method: Method, checkpoint: dict) -> None:
        self.method_ = method
        self.checkpoint_ = checkpoint
        self.info_ = method.info
        self.task_ = method.task

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> Predictor:
        m, ck = load_method(path, device)
        return cls(m, ck)

    @property
    def extractor(self) -> dict:
        """Raw-media extractor config the model was trained with ({} if none)."""
        return dict(self.checkpoint_.get("extractor") or {})

    def make_batch(self, features: dict[str, np.ndarray], present: dict[str, bool] | None = None
                   ) -> Batch:
        """One-sample batch; absent or ``present=False`` modalities are zero and not present."""
        present = present or {}
        feats, fmask, lens, pres = {}, {}, {}, []
        for m in self.info_.modalities:
            d, t_max = self.info_.dims[m], self.info_.seq_lens[m]
            x = features.get(m)
            ok = x is not None and present.get(m, True)
            if ok:
                x = np.asarray(x, dtype=np.float32)
                if x.ndim == 1:
                    x = x[None, :]
                if x.ndim != 2 or x.shape[1] != d:
                    raise DataError(f"modality {m!r}: expected (T, {d}) features, got {x.shape}")
                if not np.isfinite(x).all():
                    raise DataError(f"modality {m!r}: features contain NaN or ±inf")
                norm = self.checkpoint_.get("normalization", {}).get(m)
                if norm:
                    x = (x - norm["mean"].numpy()) / norm["std"].numpy()
                x = x[:t_max]
                n = x.shape[0]
                arr = np.zeros((t_max, d), np.float32)
                arr[:n] = x
            else:
                n, arr = 0, np.zeros((t_max, d), np.float32)
            feats[m] = torch.from_numpy(arr)[None]
            fmask[m] = (torch.arange(t_max) < n)[None]
            lens[m] = torch.tensor([n])
            pres.append(bool(ok and n > 0))
        unknown = set(features) - set(self.info_.modalities)
        if unknown:
            raise DataError(f"unknown modality(ies) {sorted(unknown)}; model uses {self.info_.modalities}")
        return Batch(features=feats, frame_mask=fmask, lengths=lens,
                     present=torch.tensor([pres]), labels=torch.zeros(1), ids=("input",),
                     index=torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def predict_features(self, features: dict[str, np.ndarray],
                         present: dict[str, bool] | None = None) -> dict:
        """{"score", "probs", "class_names", "modalities_used"} for one sample."""
        batch = self.make_batch(features, present)
        pred = self.method_.predict(batch)
        used = [m for j, m in enumerate(self.info_.modalities) if bool(batch.present[0, j])]
        return {
            "score": float(pred.score[0]),
            "probs": pred.probs[0].tolist() if pred.probs is not None else None,
            "class_names": list(self.task_.class_names),
            "modalities_used": used,
            "modalities_missing": [m for m in MODALITIES if m not in used],
        }
