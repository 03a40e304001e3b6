"""What the report needs besides the records: dataset facts, the majority-class score, and
per-run loss-balance entries from ``summary.json``."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from robustmsa.data.schema import DatasetInfo, MSADataset


def dataset_infos(data) -> dict[str, DatasetInfo]:
    """``MSADataset`` / ``DatasetInfo`` / an iterable of them -> name -> info."""
    if data is None:
        return {}
    items = [data] if isinstance(data, MSADataset | DatasetInfo) else list(data)
    out = {}
    for d in items:
        info = d.info if isinstance(d, MSADataset) else d
        out[info.name] = info
    return out


def majority_scores(data: MSADataset, task, split: str = "test") -> dict[str, float]:
    """Metrics of the constant predictor on ``split``: the most frequent class of the training
    split for class tasks (lowest index on ties), the training median score for regression.

    Args:
        data: the dataset (its ``train`` and ``split`` splits are read).
        task: a `robustmsa.tasks.Task`.
    """
    import torch

    train, test = data["train"], data[split]
    labels = np.asarray(test.labels)
    n = len(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Corr of a constant is undefined (NaN)
        if not task.is_classification:
            const = np.median(np.asarray(train.labels, dtype=np.float64), axis=0)
            return task.metrics(np.broadcast_to(const, labels.shape).astype(np.float64), None,
                                labels)
        targets = task.targets(torch.as_tensor(np.asarray(train.labels))).numpy()
        counts = np.bincount(targets.astype(int), minlength=task.num_outputs)
        c = int(np.argmax(counts))
        probs = np.zeros((n, task.num_outputs))
        probs[:, c] = 1.0
        logits = torch.log(torch.as_tensor(probs).clamp_min(1e-12))
        score = task.predict(logits).score.numpy().astype(np.float64)
        return task.metrics(score, probs, labels)


def balance_entries(summary: dict, name: str, seed: int) -> list[dict]:
    """``summary.json["loss_balance"]`` of one run -> entries for ``write_report(balance=)``:
    ``{"name", "seed", "phase", "term", "value", "grad_norm", "share"}``; [] when absent."""
    out = []
    for phase, terms in (summary.get("loss_balance") or {}).items():
        for term, d in (terms or {}).items():
            out.append({"name": name, "seed": int(seed), "phase": phase, "term": term,
                        **{k: d.get(k) for k in ("value", "grad_norm", "share")}})
    return out


def ordered(xs: Iterable) -> list:
    return list(dict.fromkeys(xs))
