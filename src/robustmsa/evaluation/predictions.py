"""Per-sample predictions of a checkpoint on a dataset split under one seeded condition.

The file ``predict --out`` writes is what ``robustmsa score`` reads:

| key | content |
|---|---|
| ``pred`` | regression: (N,) predicted scores; class tasks: (N, C) class probabilities |
| ``truth`` | regression: (N,) true scores; class tasks: (N,) true class ids (the task's targets) |
| ``score`` | (N,) predicted sentiment score (class tasks: expected class centre, P(pos) − P(neg) for 2 classes) |
| ``label`` | (N,) the dataset's labels as stored (scores or class ids) |
| ``id`` | (N,) sample ids |
| ``task``, ``class_names`` | the model's task kind and class names (``score`` checks the convention against them) |
| ``convention`` | the ``score --convention`` that fits (``mosi``/``sims`` for regression, ``classification`` for class tasks, ``none`` for ``multi_regression``: (N, K) ``pred``/``truth``, scored by ``evaluate``'s MAE / Corr per target) |
| ``condition``, ``mask_seed`` | the missing-modality condition and its mask seed |
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from robustmsa.data.prepare import prepare_for_checkpoint
from robustmsa.data.schema import MSADataset
from robustmsa.evaluation.evaluator import MaskCache, predict_split
from robustmsa.fileio import atomic_write
from robustmsa.inference import load_method
from robustmsa.missing import parse_condition


def fitting_convention(task_kind: str, score_range: tuple[float, float]) -> str:
    """The ``robustmsa score`` convention for predictions of a ``task_kind`` model."""
    if task_kind == "multi_regression":
        return "none"  # K targets on their own scale: no MMSA convention (evaluate: MAE/Corr)
    if task_kind != "regression":
        return "classification"
    return "sims" if max(abs(float(score_range[0])), abs(float(score_range[1]))) <= 1.0 else "mosi"


def predict_to_file(checkpoint: str, data: str | MSADataset, *, split: str, condition: str,
                    mask_seed: int, out: str | os.PathLike) -> tuple[Path, int]:
    """Write the arrays of the module docstring to ``out`` (.npz); returns (path, N).

    ``data`` is a dataset path / name (loaded raw with the checkpoint's ``data.seed``) or a raw
    `MSADataset`; it is prepared for the checkpoint by `prepare_for_checkpoint`. The masks are
    exactly those of `robustmsa evaluate` for the same condition and seed.
    """
    from robustmsa.data import load_data

    parse_condition(condition)  # a bad condition fails before anything is loaded
    method, ck = load_method(checkpoint)
    if not isinstance(data, MSADataset):
        data = load_data(data, seed=int((ck["config"].get("data") or {}).get("seed", 0)))
    ds = prepare_for_checkpoint(ck, data, splits=[split], source=str(checkpoint))
    sp = ds[split]
    mask = None if condition == "complete" else MaskCache().get(sp, split, condition, mask_seed)
    ps = predict_split(method, sp, mask=mask, condition=condition)
    task = method.task
    if task.is_classification:
        truth = task.targets(torch.from_numpy(np.asarray(ps.labels))).numpy()
    else:
        truth = np.asarray(ps.labels, dtype=np.float32)
    arrays = {"pred": ps.probs if ps.probs is not None else ps.score, "truth": truth,
              "score": ps.score, "label": ps.labels, "id": np.asarray(ps.ids).astype(str),
              "task": np.asarray(task.kind), "class_names": np.asarray(task.class_names, dtype=str),
              "convention": np.asarray(fitting_convention(task.kind, ds.info.score_range)),
              "condition": np.asarray(condition), "mask_seed": np.asarray(mask_seed)}
    p = atomic_write(out, lambda fh: np.savez(fh, **arrays))
    return p, len(ps.ids)
