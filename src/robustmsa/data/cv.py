"""Grouped (and, for class labels, stratified) K-fold cross-validation for small real sets.

``data.cv_folds=K data.cv_fold=i`` (optionally ``data.cv_pool=[valid,test]``,
``data.cv_seed=S``) turns a dataset into fold *i* of a K-fold split of the pooled splits:

- **Pool**: the listed splits (default: all) are concatenated; splits outside the pool are
  dropped (ICT-MMMO's trimodal CV pools valid + test, the 120 videos that have text, and leaves
  out the text-less train split).
- **Folds by group**: whole groups (`MSASplit.groups`: the video of each sample; one sample per
  video in ICT-MMMO / POM) go to one fold. A dataset without groups is refused
  (`robustmsa.data.groups.require_groups`) rather than split by rows, which would leak a
  speaker's utterances across folds.
- **Stratified** when the labels are classes (``label_kind="class"``): groups of each class (a
  group's class = its most frequent one) are dealt to the folds in turn, so each fold keeps the
  class proportions. Scores are not stratified.
- **Seeded without NumPy's RNG**: groups are ordered by ``sha256(f"{seed}:{group}")``, then
  each goes to the fold with the fewest samples of its class (ties: fewest samples, lowest
  index). The folds depend only on the groups, labels, K and the seed.
- **Carving fold i**: test = fold i; **valid = fold (i + 1) mod K** (validation stays inside
  the training part of the K-fold split and is disjoint from test); train = the other K - 2
  folds. Over i = 0..K-1 every sample is tested once and used for validation once. K >= 3.

Standardisation statistics are then fitted on the fold's train split only (as for any split).
The carved dataset's `DatasetInfo.cv` records ``{folds, fold, pool, seed}`` and is stored in
every checkpoint trained on it. `robustmsa.data.prepare.prepare_for_checkpoint` carves that
fold again from the uncarved data it is given (`fold_for`), so a fold checkpoint is always
evaluated on its own test fold, and refuses data that is another fold it cannot re-carve.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from robustmsa.data.groups import require_groups
from robustmsa.data.schema import SPLITS, MSADataset, MSASplit, infer_info
from robustmsa.errors import ConfigError, DataError


def assign_folds(groups: np.ndarray, k: int, *, seed: int = 0,
                 classes: np.ndarray | None = None) -> np.ndarray:
    """(N,) fold index of every sample; all samples of a group share a fold.

    Args:
        groups: (N,) group of each sample.
        k: number of folds (>= 2).
        seed: orders the groups (``sha256(f"{seed}:{group}")``).
        classes: (N,) class of each sample for stratification, or None.
    """
    groups = np.asarray(groups).astype(str)
    uniq = sorted(set(groups.tolist()))
    if len(uniq) < k:
        raise DataError(f"cross-validation with {k} folds needs at least {k} groups; "
                        f"the pool has {len(uniq)}")
    size = Counter(groups.tolist())
    if classes is None:
        strat = {g: 0 for g in uniq}
    else:
        cls = np.asarray(classes)
        strat = {}
        for g in uniq:
            c = Counter(cls[groups == g].tolist())
            strat[g] = min(c, key=lambda v: (-c[v], v))  # most frequent, ties: smallest
    order = sorted(uniq, key=lambda g: (strat[g], hashlib.sha256(f"{seed}:{g}".encode()).hexdigest()))
    per_class = np.zeros((k, len(set(strat.values())) or 1), dtype=np.int64)
    cls_index = {c: j for j, c in enumerate(sorted(set(strat.values())))}
    total = np.zeros(k, dtype=np.int64)
    fold_of: dict[str, int] = {}
    for g in order:
        j = cls_index[strat[g]]
        f = min(range(k), key=lambda i: (per_class[i, j], total[i], i))
        fold_of[g] = f
        per_class[f, j] += size[g]
        total[f] += size[g]
    return np.array([fold_of[g] for g in groups], dtype=np.int64)


def concat_splits(parts: Sequence[MSASplit]) -> MSASplit:
    """Rows of several splits of one dataset as one split (same modalities)."""
    mods = parts[0].modalities
    feats = {m: np.concatenate([p.features[m] for p in parts]) for m in mods}
    lens = {m: np.concatenate([p.lengths[m] for p in parts]) for m in mods}
    valid = {m: np.concatenate([p.valid_mask(m) for p in parts])
             for m in mods if any(m in p.frame_valid for p in parts)}
    extras_keys = set.intersection(*(set(p.extras) for p in parts)) if parts else set()
    groups = None if any(p.groups is None for p in parts) else np.concatenate(
        [np.asarray(p.groups).astype(str) for p in parts])
    return MSASplit(
        features=feats, lengths=lens, labels=np.concatenate([p.labels for p in parts]),
        ids=np.concatenate([np.asarray(p.ids).astype(str) for p in parts]),
        extras={k: np.concatenate([p.extras[k] for p in parts]) for k in sorted(extras_keys)},
        groups=groups, frame_valid=valid,
    )


def carve_fold(ds: MSADataset, *, folds: int, fold: int, pool: Sequence[str] = (),
               seed: int = 0) -> MSADataset:
    """Fold ``fold`` of a ``folds``-fold grouped split of ``pool`` (module docstring).

    Raises:
        ConfigError: K < 3, fold out of range, unknown pool split.
        DataError: the pool has no groups, or fewer groups than folds.
    """
    if folds < 3:
        raise ConfigError(f"data.cv_folds must be >= 3 (test fold + validation fold + training "
                          f"folds); got {folds}")
    if not 0 <= fold < folds:
        raise ConfigError(f"data.cv_fold must be in [0, {folds - 1}]; got {fold}")
    pool = tuple(pool) or tuple(ds.splits)
    for s in pool:
        if s not in ds.splits:
            raise ConfigError(f"data.cv_pool: dataset {ds.info.name!r} has no split {s!r}; it "
                              f"has {', '.join(ds.splits)}")
    parts = [ds[s] for s in pool]
    for s, p in zip(pool, parts, strict=True):
        require_groups(p, who="grouped cross-validation (data.cv_folds)", split_name=s,
                       dataset=ds.info.name)
    allsp = concat_splits(parts)
    classes = np.asarray(allsp.labels) if ds.info.label_kind == "class" else None
    f = assign_folds(allsp.groups, folds, seed=seed, classes=classes)
    rows = {"train": np.flatnonzero((f != fold) & (f != (fold + 1) % folds)),
            "valid": np.flatnonzero(f == (fold + 1) % folds),
            "test": np.flatnonzero(f == fold)}
    splits = {s: allsp.subset(rows[s]) for s in SPLITS}
    cv = {"folds": int(folds), "fold": int(fold), "pool": list(pool), "seed": int(seed)}
    info = ds.info
    notes = (f"{info.notes} | CV fold {fold} of {folds} over {'+'.join(pool)} (grouped by "
             f"video{', stratified by class' if classes is not None else ''}, seed {seed}): "
             f"test = fold {fold}, valid = fold {(fold + 1) % folds}, train = the other folds "
             f"({len(rows['train'])}/{len(rows['valid'])}/{len(rows['test'])})")
    new = infer_info(splits, name=info.name, source=info.source, label_kind=info.label_kind,
                     score_range=info.score_range, class_names=info.class_names, notes=notes,
                     target_names=info.target_names, cv=cv)
    out = MSADataset(splits=splits, info=new)
    out.uncarved_ = ds  # type: ignore[attr-defined]  # another fold is carved from this
    return out


def same_fold(have: dict, want: dict) -> bool:
    """Whether a dataset carved as ``have`` (its `DatasetInfo.cv`) is the fold ``want`` asks
    for (`cv_spec` / a checkpoint's ``dataset_info.cv``); an empty ``pool`` in ``want`` means
    "every split", which ``have`` records explicitly."""
    if not have or not want:
        return not have and not want
    keys = ("folds", "fold", "seed")
    return all(int(have[k]) == int(want[k]) for k in keys) and (
        not want.get("pool") or list(have["pool"]) == list(want["pool"]))


def fold_for(ds: MSADataset, spec: dict | None, *, who: str = "data") -> MSADataset:
    """``ds`` as the fold ``spec`` asks for (`carve_fold` keyword arguments; None = no CV).

    ``ds`` unchanged when it already is that fold (or ``spec`` is None); carved when ``ds`` is
    not a fold, or is another fold carved by `carve_fold` (which remembers what it was carved
    from). A cache on the uncarved dataset makes carving the same fold twice free.

    Raises:
        CheckpointError / ConfigError: ``ds`` is another fold and its uncarved data is unknown
            (``who`` names the checkpoint or config in the message).
        DataError: as `carve_fold`.
    """
    if not spec:
        return ds
    have = dict(ds.info.cv)
    if have and same_fold(have, spec):
        return ds
    base = ds if not have else getattr(ds, "uncarved_", None)
    if base is None:
        raise DataError(
            f"{who}: needs cross-validation fold {spec['fold']} of {spec['folds']} (seed "
            f"{spec['seed']}) but dataset {ds.info.name!r} is fold {have.get('fold')} of "
            f"{have.get('folds')}, carved from data not at hand: pass the uncarved data "
            "(load_data) or the same fold")
    cache = base.__dict__.setdefault("folds_", {})
    key = (int(spec["folds"]), int(spec["fold"]), tuple(spec.get("pool") or ()),
           int(spec["seed"]))
    if key not in cache:
        cache[key] = carve_fold(base, folds=key[0], fold=key[1], pool=key[2], seed=key[3])
    return cache[key]


def cv_spec(data_cfg) -> dict | None:
    """The `carve_fold` keyword arguments a `DataConfig` asks for (None without CV)."""
    if not getattr(data_cfg, "cv_folds", 0):
        return None
    return {"folds": int(data_cfg.cv_folds), "fold": int(data_cfg.cv_fold),
            "pool": tuple(data_cfg.cv_pool), "seed": int(data_cfg.cv_seed)}


def benchmark_folds(base: dict, folds: Sequence[int] = ()) -> list[tuple[int | None, dict]]:
    """The fold dimension of a benchmark: ``[(fold, base with data.cv_fold=fold), ...]``, or
    ``[(None, base)]`` when ``base`` asks for no cross-validation. ``folds`` restricts the
    folds run (default: all ``data.cv_folds``)."""
    k = int((base.get("data") or {}).get("cv_folds") or 0)
    if not k:
        if folds:
            raise ConfigError("benchmark folds given but base.data.cv_folds is not set")
        return [(None, base)]
    chosen = list(folds) or list(range(k))
    bad = [f for f in chosen if not 0 <= int(f) < k]
    if bad:
        raise ConfigError(f"benchmark folds {bad} out of range for data.cv_folds={k}")
    out = []
    for f in chosen:
        b = dict(base)
        b["data"] = {**(base.get("data") or {}), "cv_fold": int(f)}
        out.append((int(f), b))
    return out
