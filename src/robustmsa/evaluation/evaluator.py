"""Run a method over a split under missing-modality conditions, with masks fixed by seed.

Masks are drawn once per (split, condition, mask seed) for the whole split and cached, so
every method is evaluated on identical corrupted inputs and batch size / order never matter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from robustmsa.data.dataset import collate_rows
from robustmsa.data.groups import batch_rows
from robustmsa.data.schema import MSASplit
from robustmsa.missing import MissingMask, apply_missing, coverage, draw_mask, parse_condition
from robustmsa.nn.backbone import reuse_encodings
from robustmsa.types import Batch


@dataclass
class MaskCache:
    """Caches full-split masks by (split name, the split's samples, condition key, seed).

    "The split's samples" is a digest of its ids, lengths and frame masks (what a mask depends
    on), so two different test splits of equal size — e.g. the test folds of a cross-validation
    — never share a mask, while every checkpoint evaluated on one split does. Also caches the
    split's collated complete batches (by split object: differently standardised copies of a
    split share masks, not features).
    """

    store: dict[tuple, MissingMask] = field(default_factory=dict)
    collated: dict[tuple, tuple[MSASplit, list[tuple[np.ndarray, Batch]]]] = field(
        default_factory=dict)

    def batches(self, split: MSASplit, batch_size: int, grouped: bool = False
                ) -> list[tuple[np.ndarray, Batch]]:
        """(rows, complete batch) pairs covering ``split`` (whole groups when ``grouped`` and
        the split has groups; see `robustmsa.data.groups.batch_rows`), collated once."""
        groups = split.groups if grouped else None
        key = (id(split), batch_size, groups is not None)
        hit = self.collated.get(key)
        if hit is None or hit[0] is not split:
            rows = batch_rows(np.arange(len(split)), batch_size, groups)
            hit = (split, [(r, collate_rows(split, r)) for r in rows])
            self.collated[key] = hit
        return hit[1]

    @staticmethod
    def samples_key(split: MSASplit) -> str:
        h = hashlib.sha256()
        h.update("\0".join(str(i) for i in split.ids).encode())
        for m in sorted(split.features):
            h.update(m.encode() + np.ascontiguousarray(split.lengths[m], np.int64).tobytes())
            if m in split.frame_valid:
                h.update(np.packbits(np.asarray(split.frame_valid[m], bool)).tobytes())
        return h.hexdigest()[:20]

    def get(self, split: MSASplit, split_name: str, condition: str, seed: int) -> MissingMask:
        sampler = parse_condition(condition)
        seq_lens = {m: int(x.shape[1]) for m, x in split.features.items()}
        key = (split_name, len(split), self.samples_key(split), sampler.key, int(seed),
               tuple(sorted(seq_lens.items())))
        if key not in self.store:
            self.store[key] = draw_mask(
                sampler, [str(i) for i in split.ids], split.lengths, seq_lens,
                seed=seed, split=split_name, valid=split.frame_valid,
            )
        return self.store[key]


@dataclass
class PredictionSet:
    """Predictions of one method on one split under one condition."""

    score: np.ndarray
    probs: np.ndarray | None
    labels: np.ndarray
    ids: list[str]




@torch.no_grad()
def predict_split(
    method: torch.nn.Module,
    split: MSASplit,
    *,
    mask: MissingMask | None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    condition: str = "complete",
    batches: list[tuple[np.ndarray, Batch]] | None = None,
) -> PredictionSet:
    """Predictions of ``method.predict`` over ``split`` (in row order), input masked by ``mask``.

    Methods with ``group_batches`` get batches of whole groups when the split has groups, so
    their predictions never depend on the batch size; the masks are the same rows of ``mask``
    either way. ``batches``: the split's complete batches, already collated
    (`MaskCache.batches` with the same grouping).
    """
    was_training = method.training
    method.eval()
    n = len(split)
    groups = split.groups if getattr(method, "group_batches", False) else None
    score: np.ndarray | None = None
    probs: np.ndarray | None = None
    if batches is None:
        batches = ((r, collate_rows(split, r)) for r in batch_rows(np.arange(n), batch_size, groups))
    try:
        for rows, batch in batches:
            if mask is not None:
                batch = apply_missing(batch, mask[rows])
            batch = batch.to(device)
            pred = method.predict(batch, condition=condition) if _takes_condition(method) \
                else method.predict(batch)
            s = pred.score.float().cpu().numpy()
            if score is None:
                score = np.zeros((n, *s.shape[1:]), dtype=s.dtype)  # (N,) or (N, K) targets
                if pred.probs is not None:
                    probs = np.zeros((n, pred.probs.shape[-1]), dtype=np.float32)
            score[rows] = s
            if probs is not None and pred.probs is not None:
                probs[rows] = pred.probs.float().cpu().numpy()
    finally:
        method.train(was_training)
    return PredictionSet(
        score=score if score is not None else np.zeros(0, dtype=np.float32),
        probs=probs,
        labels=np.asarray(split.labels),
        ids=[str(i) for i in split.ids],
    )


def _takes_condition(method: torch.nn.Module) -> bool:
    import inspect

    return "condition" in inspect.signature(method.predict).parameters


def evaluate_conditions(
    method: torch.nn.Module,
    split: MSASplit,
    *,
    split_name: str,
    conditions: Iterable[str],
    mask_seeds: Iterable[int] = (0,),
    cache: MaskCache | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> list[dict]:
    """Metrics for every (condition, mask seed): records {condition, mask_seed, metric, value}.

    Each (condition, mask seed) also gets a ``coverage`` record: the fraction of samples that
    actually have every modality the condition asks for, natural and simulated missingness
    together (`robustmsa.missing.coverage`). A sample that lacks a requested modality in the
    data is still evaluated, as it really is (with what it has); coverage says how many did.
    """
    cache = cache or MaskCache()
    task = method.task
    natural = np.stack([np.asarray(split.lengths[m]) > 0 for m in split.modalities], axis=1)
    out = []
    batches = cache.batches(split, batch_size, bool(getattr(method, "group_batches", False)))
    # a modality that a condition leaves untouched is encoded once for all conditions
    with reuse_encodings(x for _, b in batches for x in b.features.values()):
        for cond in conditions:
            for ms in mask_seeds:
                mask = None if cond == "complete" else cache.get(split, split_name, cond, ms)
                ps = predict_split(method, split, mask=mask, batch_size=batch_size,
                                   device=device, condition=cond, batches=batches)
                for k, v in task.metrics(ps.score, ps.probs, ps.labels).items():
                    out.append({"condition": cond, "mask_seed": int(ms), "metric": k, "value": v})
                out.append({"condition": cond, "mask_seed": int(ms), "metric": "coverage",
                            "value": coverage(natural, mask)})
    return out
