"""The one data path: raw data -> what the model of a checkpoint must see.

Every entry point that feeds data to a trained model — ``robustmsa evaluate`` / ``predict``,
`robustmsa.evaluation.api.evaluate` / ``evaluate_method``, `robustmsa.evaluation.predictions`,
`robustmsa.inference.Predictor` (and so the raw-media path), ``benchmark`` — calls
`prepare_for_checkpoint` with the checkpoint dict and the **raw** dataset (as `load_data` returns
it). The trainer calls it too, with the statistics it has just fitted on its training split, so
validation during training sees exactly what evaluation sees afterwards.

What it does, in order:

1. checks the checkpoint's ``dataset_info`` and ``normalization`` fields;
2. carves the checkpoint's cross-validation fold (``dataset_info.cv``, `robustmsa.data.cv`)
   from uncarved data — a fold checkpoint is evaluated on its own test fold whatever fold or
   uncarved data it is given, as long as the uncarved data is known — and refuses data that is
   another fold it cannot re-carve;
3. checks the feature layout: every modality the model uses is in the data with the same width,
   made by the same extractor with the same settings where both record one (`robustmsa
   extract`), and the labels are of the same kind (sentiment scores vs. the same classes);
4. standardises each used modality with the checkpoint's stored mean / std (the statistics of
   the *training split the model was trained on*, never of the file being evaluated); padding
   stays exactly zero. A checkpoint with no stored statistics (``data.standardize=false``) gets
   the raw features. Frames outside an explicit frame mask (`MSASplit.frame_valid`) stay
   zero too, exactly as in training.

Masks depend only on sample ids, lengths and frame masks, which this never changes, so two
checkpoints with different statistics are still evaluated on identical masks (checkpoints of
different folds are evaluated on different test samples, each on its own).

A prepared dataset remembers its raw source (``raw_``) and the statistics it was prepared with
(``prepared_for_``): preparing it again for another checkpoint starts from the raw data, and
preparing it for the same statistics returns it unchanged. Data standardised any other way is
refused, so features are never standardised twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from robustmsa.data.cv import fold_for, same_fold
from robustmsa.data.schema import DatasetInfo, MSADataset
from robustmsa.data.transforms import NormStats, apply_norm, fit_norm_stats
from robustmsa.errors import CheckpointError, DataError

__all__ = [
    "check_data_fits",
    "checkpoint_info",
    "fingerprint",
    "norm_stats_of",
    "norm_stats_payload",
    "prepare_for_checkpoint",
    "preparation_key",
]


def checkpoint_info(ck: dict[str, Any], source: str = "checkpoint") -> DatasetInfo:
    """The checked `DatasetInfo` the checkpoint's model was built for."""
    try:
        return DatasetInfo.from_dict(ck.get("dataset_info"))
    except ValueError as e:
        raise CheckpointError(f"{source}: field 'dataset_info': {e}") from None


def norm_stats_of(ck: dict[str, Any], source: str = "checkpoint") -> NormStats:
    """Modality -> (mean, std) float32 arrays stored in the checkpoint ({} = raw features)."""
    out: NormStats = {}
    norm = ck.get("normalization") or {}
    if not isinstance(norm, dict):
        raise CheckpointError(f"{source}: field 'normalization' must be a dict")
    for m, st in norm.items():
        try:
            mean = np.asarray(st["mean"].numpy() if hasattr(st["mean"], "numpy") else st["mean"],
                              dtype=np.float32)
            std = np.asarray(st["std"].numpy() if hasattr(st["std"], "numpy") else st["std"],
                             dtype=np.float32)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise CheckpointError(f"{source}: field 'normalization.{m}' must hold 'mean' and "
                                  "'std' vectors") from None
        if mean.ndim != 1 or mean.shape != std.shape:
            raise CheckpointError(f"{source}: field 'normalization.{m}': mean {mean.shape} and "
                                  f"std {std.shape} must be equal-length vectors")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise CheckpointError(f"{source}: field 'normalization.{m}': non-finite mean or a "
                                  "std <= 0")
        out[str(m)] = (mean, std)
    return out


def norm_stats_payload(stats: NormStats) -> dict[str, dict[str, Any]]:
    """Statistics in the checkpoint layout: modality -> {"mean", "std"} CPU tensors."""
    import torch

    return {m: {"mean": torch.from_numpy(np.array(mu, dtype=np.float32)),
                "std": torch.from_numpy(np.array(sd, dtype=np.float32))}
            for m, (mu, sd) in stats.items()}


def prepare_with_train_stats(raw: MSADataset, *, standardize: bool = True,
                             splits: Iterable[str] | None = None,
                             source: str | None = None) -> tuple[MSADataset, NormStats]:
    """What a model trained on ``raw`` sees: statistics fitted on its training split (none
    when ``standardize`` is false), applied through `prepare_for_checkpoint` — the trainer's
    preparation, for callers that need the same inputs without a checkpoint yet. Returns the
    prepared data and the statistics."""
    stats = fit_norm_stats(raw["train"]) if standardize else {}
    ck = {"dataset_info": raw.info.to_dict(), "normalization": norm_stats_payload(stats)}
    return prepare_for_checkpoint(ck, raw, splits=splits, source=source), stats


def fingerprint(stats: NormStats) -> str:
    """A digest of the statistics: equal digests = identically prepared features."""
    h = hashlib.sha256()
    for m in sorted(stats):
        mu, sd = stats[m]
        h.update(m.encode() + b"\0" + np.ascontiguousarray(mu, np.float32).tobytes()
                 + np.ascontiguousarray(sd, np.float32).tobytes())
    return "raw" if not stats else h.hexdigest()[:16]


def check_data_fits(checkpoint: Any, trained_on: DatasetInfo, data: DatasetInfo) -> None:
    """Raise `CheckpointError` unless ``data`` has the features and labels the model was
    trained on, and is the same cross-validation fold when the model was trained on one
    (``checkpoint`` only names the model in the message)."""
    if trained_on.cv and not same_fold(dict(data.cv), dict(trained_on.cv)):
        cv = trained_on.cv
        raise CheckpointError(
            f"{checkpoint}: trained on cross-validation fold {cv['fold']} of {cv['folds']} "
            f"(pool {'+'.join(cv['pool'])}, seed {cv['seed']}); evaluate it on that fold "
            f"(data.cv_folds={cv['folds']} data.cv_fold={cv['fold']}) or on the uncarved data: "
            f"dataset {data.name!r} is "
            f"{'fold ' + str(data.cv.get('fold')) if data.cv else 'not a CV fold'}"
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
    if trained_on.label_kind != data.label_kind:
        what = {"class": "native class ids", "score": "sentiment scores",
                "multi": "multi-target scores"}
        raise CheckpointError(
            f"{checkpoint}: the model was trained on {what[trained_on.label_kind]} but dataset "
            f"{data.name!r} has {what.get(data.label_kind, data.label_kind)}"
        )
    if trained_on.label_kind == "multi" and tuple(trained_on.target_names) != tuple(
            data.target_names):
        raise CheckpointError(
            f"{checkpoint}: the model's targets {list(trained_on.target_names)} differ from "
            f"dataset {data.name!r}'s {list(data.target_names)}"
        )
    if trained_on.label_kind == "class" and tuple(trained_on.class_names) != tuple(
            data.class_names):
        raise CheckpointError(
            f"{checkpoint}: the model's classes {list(trained_on.class_names)} differ from "
            f"dataset {data.name!r}'s {list(data.class_names)}"
        )


def check_extractors_fit(checkpoint: Any, ck: dict[str, Any], data: DatasetInfo) -> None:
    """Features made by ``robustmsa extract`` carry their extractor configuration: when both
    the checkpoint and the data do, every modality the model uses must match (same extractor,
    settings, width) — equal widths alone do not make the same features."""
    from robustmsa.media.base import describe_mismatch
    from robustmsa.media.provenance import extractor_config

    trained = ck.get("extractor") or extractor_config(ck.get("dataset_info")) or {}
    given = extractor_config(data) or {}
    if not trained or not given:
        return
    for m in checkpoint_info(ck, str(checkpoint)).modalities:
        if m in trained and m in given:
            diff = describe_mismatch(trained[m], given[m])
            if diff:
                raise CheckpointError(
                    f"{checkpoint}: the {m} features of dataset {data.name!r} were extracted "
                    f"differently from the model's ({'; '.join(diff)})"
                )


def prepare_for_checkpoint(
    ck: dict[str, Any],
    data: MSADataset,
    *,
    splits: Iterable[str] | None = None,
    source: str | None = None,
) -> MSADataset:
    """What the model of checkpoint ``ck`` must see, from raw ``data`` (module docstring).

    Args:
        ck: a checkpoint dict (`robustmsa.engine.checkpoint.load_checkpoint`), or any dict
            with its ``dataset_info`` and ``normalization`` fields.
        data: the raw dataset (or one prepared earlier by this function).
        splits: prepare only these splits (default: all).
        source: how to name the checkpoint in errors (its path).

    Returns:
        A new `MSADataset` (the raw arrays are never modified) with ``raw_`` and
        ``prepared_for_`` set.

    Raises:
        CheckpointError: damaged fields, or data the model does not fit (modality, width,
            label kind, classes, statistics width).
        DataError: ``data`` was standardised outside this function, or lacks a split.
    """
    where = source or "checkpoint"
    raw = getattr(data, "raw_", None) or data
    if getattr(raw, "norm_stats", None) is not None:
        raise DataError(
            f"dataset {raw.info.name!r} is already standardised; pass the raw data "
            "(load_data / DataConfig.load): the checkpoint's statistics are applied here"
        )
    info = checkpoint_info(ck, where)
    fold = raw
    if info.cv and (not raw.info.cv or getattr(raw, "uncarved_", None) is not None):
        fold = fold_for(raw, info.cv, who=where)  # the checkpoint's own CV fold
    check_data_fits(where, info, fold.info)
    check_extractors_fit(where, ck, fold.info)
    stats = norm_stats_of(ck, where)
    for m in info.modalities:
        if stats and m not in stats:
            raise CheckpointError(f"{where}: field 'normalization' has no statistics for {m}")
        if m in stats and stats[m][0].shape[0] != info.dims[m]:
            raise CheckpointError(f"{where}: field 'normalization.{m}' has width "
                                  f"{stats[m][0].shape[0]}, the model {info.dims[m]}")
    fp = preparation_key(ck, where)
    names = list(fold.splits) if splits is None else list(splits)
    if getattr(data, "prepared_for_", None) == fp and all(s in data.splits for s in names):
        return data
    out_splits = {}
    for s in names:
        sp = fold[s]  # DataError naming the dataset and its splits when absent
        feats = {m: apply_norm(x, sp.lengths[m], stats[m], sp.frame_valid.get(m))
                 if m in stats else x for m, x in sp.features.items()}
        out_splits[s] = _with_features(sp, feats)
    out = MSADataset(splits=out_splits, info=fold.info)
    out.raw_ = raw  # type: ignore[attr-defined]
    out.prepared_for_ = fp  # type: ignore[attr-defined]
    return out


def preparation_key(ck: dict[str, Any], source: str = "checkpoint") -> str:
    """Equal keys = identically prepared data: the same statistics (`fingerprint`) and the
    same cross-validation fold (``dataset_info.cv``)."""
    cv = checkpoint_info(ck, source).cv
    fold = "" if not cv else (f"|cv{cv['folds']}.{cv['fold']}.{'+'.join(cv['pool'])}."
                              f"{cv['seed']}")
    return fingerprint(norm_stats_of(ck, source)) + fold


def _with_features(sp, feats):
    from dataclasses import replace

    return replace(sp, features=feats)
