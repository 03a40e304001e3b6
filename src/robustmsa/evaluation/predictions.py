"""Per-sample predictions of a checkpoint on a dataset split under one seeded condition."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from robustmsa.evaluation.evaluator import MaskCache, predict_split
from robustmsa.fileio import atomic_write
from robustmsa.inference import check_data_fits, load_method


def predict_to_file(checkpoint: str, data: str, *, split: str, condition: str, mask_seed: int,
                    out: str | os.PathLike) -> tuple[Path, int]:
    """Write ``pred`` (scores, or class probabilities), ``score``, ``label`` and ``id`` to .npz.

    The masks are exactly those of `robustmsa evaluate` for the same condition and seed.
    """
    from robustmsa.config import DataConfig, dataclass_from_dict

    method, ck = load_method(checkpoint)
    data_cfg = dataclass_from_dict(DataConfig, ck["config"]["data"], "checkpoint data config")
    data_cfg.source = data
    ds = data_cfg.load()
    check_data_fits(checkpoint, method.info, ds.info)
    sp = ds[split]
    mask = None if condition == "complete" else MaskCache().get(sp, split, condition, mask_seed)
    ps = predict_split(method, sp, mask=mask, condition=condition)
    arrays = {"pred": ps.probs if ps.probs is not None else ps.score, "score": ps.score,
              "label": ps.labels, "id": np.asarray(ps.ids).astype(str),
              "condition": np.asarray(condition), "mask_seed": np.asarray(mask_seed)}
    p = atomic_write(out, lambda fh: np.savez(fh, **arrays))
    return p, len(ps.ids)
