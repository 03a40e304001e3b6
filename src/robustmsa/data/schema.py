"""In-memory dataset containers and the project's own pickle-free file format.

A dataset is a set of named splits (``train``/``valid``/``test``); every split holds, per
modality, a zero-padded (N, T_m, D_m) float32 array and the (N,) true lengths, plus labels and
sample ids. Dimensions and lengths are always read from the arrays, never from a config.

Frame validity: by default the valid frames of a sample are the first ``lengths[m]`` ones
(zero padding at the end). Releases whose missing frames sit anywhere (left padding, gaps in
the middle: the MFN HDF5 releases) also carry ``frame_valid[m]``, an explicit (N, T_m) bool
mask; ``lengths[m]`` is then the span end (index of the last valid frame + 1), so code that
only knows lengths never treats a valid frame as padding. `MSASplit.valid_mask` gives the mask
either way.

On disk (``save_dataset``/``load_dataset``) a dataset is one ``.npz`` (arrays only, loaded with
``allow_pickle=False``) and a sidecar ``.json`` with the metadata.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from robustmsa.errors import DataError
from robustmsa.fileio import atomic_write
from robustmsa.types import MODALITIES

FORMAT_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: ``score`` one sentiment score, ``class`` native class ids, ``multi`` K continuous targets
LABEL_KINDS: tuple[str, ...] = ("score", "class", "multi")


@dataclass
class MSASplit:
    """One split of a dataset.

    Attributes:
        features: modality -> (N, T_m, D_m) float32, zero-padded at the end.
        lengths: modality -> (N,) int64 true lengths (1 <= len <= T_m, or 0 if the modality
            is absent for that sample); with ``frame_valid[m]`` the span end (last valid
            frame + 1).
        labels: (N,) float32 sentiment scores, int64 class ids for native-class data, or
            (N, K) float32 for multi-target regression (``DatasetInfo.target_names``).
        ids: (N,) sample ids as str.
        extras: optional extra arrays with a leading N axis (e.g. ``text_sim``).
        groups: optional (N,) str group of each sample (the video / dialogue an utterance
            belongs to), in the split's row order; None when the source has no grouping.
            Used by conversation-level methods (GCNet) and grouped cross-validation; see
            `robustmsa.data.groups`.
        frame_valid: optional modality -> (N, T_m) bool, True where a frame is real; only for
            modalities whose valid frames are not a prefix (see the module docstring).
    """

    features: dict[str, np.ndarray]
    lengths: dict[str, np.ndarray]
    labels: np.ndarray
    ids: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    groups: np.ndarray | None = None
    frame_valid: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.features)

    def valid_mask(self, m: str) -> np.ndarray:
        """(N, T_m) bool: the real frames of modality ``m`` (explicit mask, else the prefix)."""
        if m in self.frame_valid:
            return np.asarray(self.frame_valid[m], dtype=bool)
        t = self.features[m].shape[1]
        return np.arange(t)[None, :] < np.asarray(self.lengths[m])[:, None]

    def subset(self, rows: np.ndarray) -> MSASplit:
        """Rows ``rows`` (int indices or bool mask) as a new split (arrays copied)."""
        return MSASplit(
            features={m: v[rows].copy() for m, v in self.features.items()},
            lengths={m: v[rows].copy() for m, v in self.lengths.items()},
            labels=self.labels[rows].copy(),
            ids=self.ids[rows].copy(),
            extras={k: v[rows].copy() for k, v in self.extras.items()},
            groups=None if self.groups is None else self.groups[rows].copy(),
            frame_valid={m: v[rows].copy() for m, v in self.frame_valid.items()},
        )


@dataclass
class DatasetInfo:
    """What a model builder needs to know about the data (inferred from the files).

    Attributes:
        name: dataset name, e.g. ``"mosi_bclstm"`` or ``"synthetic"``.
        dims: modality -> feature width D_m.
        seq_lens: modality -> padded length T_m.
        label_kind: ``"score"`` (continuous sentiment), ``"class"`` (native class ids) or
            ``"multi"`` ((N, K) targets named by ``target_names``).
        score_range: (lo, hi) of the sentiment scale for ``"score"`` labels.
        class_names: names of native classes (``"class"`` labels only).
        source: file or generator the data came from.
        notes: free-text provenance notes (e.g. split policy).
        target_names: names of the K columns of (N, K) multi-target labels (empty otherwise).
        cv: the cross-validation carving this dataset is (``robustmsa.data.cv``): ``folds``,
            ``fold``, ``pool``, ``seed``; empty when it is not a CV fold.
        target_mean, target_std: per-target mean / std of the *training split's* labels when
            ``target_names`` is set (``multi_regression`` learns standardised targets and
            predicts on the original scale); empty otherwise.
    """

    name: str
    dims: dict[str, int]
    seq_lens: dict[str, int]
    label_kind: str = "score"
    score_range: tuple[float, float] = (-3.0, 3.0)
    class_names: tuple[str, ...] = ()
    source: str = ""
    notes: str = ""
    target_names: tuple[str, ...] = ()
    cv: dict = field(default_factory=dict)
    target_mean: tuple[float, ...] = ()
    target_std: tuple[float, ...] = ()

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.dims)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["score_range"] = list(self.score_range)
        d["class_names"] = list(self.class_names)
        d["target_names"] = list(self.target_names)
        d["target_mean"] = list(self.target_mean)
        d["target_std"] = list(self.target_std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DatasetInfo:
        """Inverse of `to_dict`, checked.

        Raises:
            ValueError: ``d`` is not a mapping, lacks ``name`` / ``dims`` / ``seq_lens``, has
                unknown or ill-typed fields (the message names the field).
        """
        if not isinstance(d, dict):
            raise ValueError(f"expected a mapping, got {type(d).__name__}")
        d = dict(d)
        fields = {"name", "dims", "seq_lens", "label_kind", "score_range", "class_names",
                  "source", "notes", "target_names", "cv", "target_mean", "target_std"}
        unknown = sorted(set(map(str, d)) - fields)
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        for key in ("name", "dims", "seq_lens"):
            if key not in d:
                raise ValueError(f"missing field {key!r}")
        if not isinstance(d["name"], str):
            raise ValueError("field 'name' must be a string")
        for key in ("dims", "seq_lens"):
            v = d[key]
            if not isinstance(v, dict) or not all(
                    isinstance(m, str) and isinstance(n, int) and not isinstance(n, bool)
                    and n >= 0 for m, n in v.items()):
                raise ValueError(f"field {key!r} must map modality names to non-negative "
                                 f"integers; got {v!r}"[:300])
        if d.get("label_kind", "score") not in LABEL_KINDS:
            raise ValueError(f"field 'label_kind' must be one of {', '.join(LABEL_KINDS)}; got "
                             f"{d.get('label_kind')!r}")
        try:
            d["score_range"] = tuple(float(x) for x in d.get("score_range", (-3.0, 3.0)))
            d["class_names"] = tuple(str(x) for x in d.get("class_names", ()))
            d["target_names"] = tuple(str(x) for x in d.get("target_names", ()))
            d["target_mean"] = tuple(float(x) for x in d.get("target_mean", ()))
            d["target_std"] = tuple(float(x) for x in d.get("target_std", ()))
        except (TypeError, ValueError):
            raise ValueError("fields 'score_range' / 'class_names' / 'target_names' / "
                             "'target_mean' / 'target_std' must be lists") from None
        if len(d["score_range"]) != 2:
            raise ValueError("field 'score_range' must be [lo, hi]")
        for key in ("target_mean", "target_std"):
            if d[key] and len(d[key]) != len(d["target_names"]):
                raise ValueError(f"field {key!r} has {len(d[key])} values for "
                                 f"{len(d['target_names'])} target_names")
        if not all(math.isfinite(v) for v in d["target_mean"]) or \
                not all(math.isfinite(v) and v > 0 for v in d["target_std"]):
            raise ValueError("fields 'target_mean' / 'target_std' must be finite (std > 0)")
        d["cv"] = check_cv(d.get("cv"))
        for key in ("source", "notes"):
            if not isinstance(d.get(key, ""), str):
                raise ValueError(f"field {key!r} must be a string")
        return cls(**d)


@dataclass
class MSADataset:
    """A named collection of splits plus its `DatasetInfo`."""

    splits: dict[str, MSASplit]
    info: DatasetInfo

    def __getitem__(self, split: str) -> MSASplit:
        if split not in self.splits:
            raise DataError(
                f"dataset {self.info.name!r} ({self.info.source or 'in memory'}) has no split "
                f"{split!r}; it has: {', '.join(self.splits)}"
            )
        return self.splits[split]


def validate_split(split: MSASplit, *, source: str, split_name: str) -> None:
    """Check one split for the problems a reader must refuse, with a precise message.

    Raises:
        DataError: empty split, non-finite features, lengths out of range, shape mismatch.
    """
    where = f"{source} [{split_name}]"
    n = len(split)
    if n == 0:
        raise DataError(f"{where}: the split is empty (0 samples)")
    if split.ids.shape[0] != n:
        raise DataError(f"{where}: 'id' has {split.ids.shape[0]} entries but labels have {n}")
    if split.groups is not None and np.shape(split.groups) != (n,):
        raise DataError(f"{where}: 'groups' has shape {np.shape(split.groups)}, expected ({n},)")
    labels = np.asarray(split.labels)
    if labels.dtype.kind not in "biuf":
        raise DataError(f"{where}: labels must be numbers; got dtype {labels.dtype} "
                        f"(e.g. {labels.reshape(-1)[:1].tolist()})")
    if labels.ndim not in (1, 2) or labels.shape[0] != n or (labels.ndim == 2 and
                                                            labels.shape[1] == 0):
        raise DataError(f"{where}: labels must have shape ({n},) (or ({n}, K) for K targets); "
                        f"got {labels.shape}")
    if not np.all(np.isfinite(labels.astype(np.float64))):
        raise DataError(f"{where}: labels contain NaN or ±inf")
    for m, x in split.features.items():
        if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf":
            raise DataError(f"{where}: {m!r} features must be a numeric array; got dtype "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.ndim != 3:
            raise DataError(f"{where}: {m!r} must be (N, T, D); got shape {x.shape}")
        if x.shape[0] != n:
            raise DataError(f"{where}: {m!r} has {x.shape[0]} rows but labels have {n}")
        bad = ~np.isfinite(x)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DataError(
                f"{where}: {m!r} contains {int(bad.sum())} NaN/±inf values "
                f"(first in sample {row}, id {split.ids[row]!s})"
            )
        ln = split.lengths.get(m)
        if ln is None:
            raise DataError(f"{where}: no lengths for modality {m!r}")
        if ln.shape != (n,):
            raise DataError(f"{where}: '{m}_lengths' must have shape ({n},); got {ln.shape}")
        if ln.dtype.kind not in "iu":
            if ln.dtype.kind != "f" or not np.all(np.isfinite(ln)) or (ln != np.round(ln)).any():
                raise DataError(f"{where}: '{m}_lengths' must be integers; got dtype {ln.dtype}")
        if (ln < 0).any() or (ln > x.shape[1]).any():
            row = int(np.argmax((ln < 0) | (ln > x.shape[1])))
            raise DataError(
                f"{where}: '{m}_lengths' has length {int(ln[row])} for sample {row} "
                f"(id {split.ids[row]!s}), outside [0, padded length {x.shape[1]}]"
            )
        fv = split.frame_valid.get(m)
        if fv is not None:
            fv = np.asarray(fv)
            if fv.dtype != bool or fv.shape != x.shape[:2]:
                raise DataError(f"{where}: '{m}_valid' must be a bool array of shape "
                                f"{x.shape[:2]}; got {fv.dtype} {fv.shape}")
            span = np.where(fv.any(1), fv.shape[1] - np.argmax(fv[:, ::-1], axis=1), 0)
            if (span != ln).any():
                row = int(np.argmax(span != ln))
                raise DataError(
                    f"{where}: '{m}_lengths' of sample {row} (id {split.ids[row]!s}) is "
                    f"{int(ln[row])} but its last valid frame in '{m}_valid' ends at {int(span[row])}"
                )
    unknown = set(split.frame_valid) - set(split.features)
    if unknown:
        raise DataError(f"{where}: frame masks for modalities without features: {sorted(unknown)}")


def check_label_shapes(splits: dict[str, MSASplit], label_kind: str,
                       target_names: tuple[str, ...], *, source: str) -> None:
    """Multi-target labels (``label_kind="multi"``) are (N, K) with K = ``len(target_names)``;
    every other kind has (N,) labels (one score or class id per sample).

    Raises:
        DataError: labels of the wrong shape (names the split and the shape).
    """
    for sname, sp in splits.items():
        shape = np.shape(sp.labels)
        n = shape[0]
        if label_kind == "multi":
            k = len(target_names)
            if not k:
                raise DataError(f"{source}: multi-target labels need target_names")
            if shape != (n, k):
                raise DataError(f"{source} [{sname}]: labels have shape {shape} but "
                                f"{k} target names ({', '.join(target_names)}): expected "
                                f"({n}, {k})")
        elif shape != (n,):
            raise DataError(f"{source} [{sname}]: labels must have shape ({n},) for "
                            f"label_kind {label_kind!r}; got {shape} ((N, K) labels need "
                            "label_kind 'multi' and K target_names)")


def check_cv(cv: object) -> dict:
    """A `DatasetInfo.cv` value, checked: ``{}`` or ``{folds, fold, pool, seed}``.

    Raises:
        ValueError: not a mapping, unknown / missing keys, ill-typed values (names the key).
    """
    if cv is None or cv == {}:
        return {}
    if not isinstance(cv, dict):
        raise ValueError(f"field 'cv' must be a mapping; got {type(cv).__name__}")
    keys = {"folds", "fold", "pool", "seed"}
    if set(map(str, cv)) != keys:
        raise ValueError(f"field 'cv' must have exactly the keys {', '.join(sorted(keys))}; got "
                         f"{', '.join(sorted(map(str, cv)))}")
    for k in ("folds", "fold", "seed"):
        v = cv[k]
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"field 'cv.{k}' must be a non-negative integer; got {v!r}")
    if not cv["fold"] < cv["folds"]:
        raise ValueError(f"field 'cv.fold' {cv['fold']} is not below 'cv.folds' {cv['folds']}")
    pool = cv["pool"]
    if not isinstance(pool, list | tuple) or not all(isinstance(x, str) for x in pool):
        raise ValueError(f"field 'cv.pool' must be a list of split names; got {pool!r}")
    return {"folds": cv["folds"], "fold": cv["fold"], "pool": list(pool), "seed": cv["seed"]}


def check_class_labels(splits: dict[str, MSASplit], class_names: tuple[str, ...], *,
                       source: str) -> None:
    """Native class labels must be integer ids in ``[0, len(class_names))`` (checked at load,
    not found mid-training).

    Raises:
        DataError: no class names, a non-integer id or an id out of range (names split, sample
            and value).
    """
    k = len(class_names)
    if k < 2:
        raise DataError(f"{source}: class labels need at least 2 class_names; got "
                        f"{list(class_names)}")
    for sname, sp in splits.items():
        y = np.asarray(sp.labels, dtype=np.float64)
        bad = (y != np.round(y)) | (y < 0) | (y >= k)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"{source} [{sname}]: label {y[row]:g} of sample {row} (id {sp.ids[row]!s}) is "
                f"not a class id of {k} classes ({', '.join(class_names)}): ids must be "
                f"integers 0..{k - 1}"
            )


def infer_info(
    splits: dict[str, MSASplit],
    *,
    name: str,
    source: str,
    label_kind: str = "score",
    score_range: tuple[float, float] = (-3.0, 3.0),
    class_names: tuple[str, ...] = (),
    notes: str = "",
    target_names: tuple[str, ...] = (),
    cv: dict | None = None,
) -> DatasetInfo:
    """Validate every split and infer dims / padded lengths, checking they agree across splits."""
    if not splits:
        raise DataError(f"{source}: no splits found")
    dims: dict[str, int] = {}
    seq: dict[str, int] = {}
    first: dict[str, str] = {}
    for sname, sp in splits.items():
        validate_split(sp, source=source, split_name=sname)
        for m, x in sp.features.items():
            if m in dims and dims[m] != x.shape[2]:
                raise DataError(
                    f"{source}: feature dimension of {m!r} differs across splits: "
                    f"{first[m]} has {dims[m]}, {sname} has {x.shape[2]}"
                )
            dims.setdefault(m, int(x.shape[2]))
            first.setdefault(m, sname)
            seq[m] = max(seq.get(m, 0), int(x.shape[1]))
    mods = [set(sp.features) for sp in splits.values()]
    if any(s != mods[0] for s in mods):
        raise DataError(f"{source}: splits carry different modalities: {[sorted(s) for s in mods]}")
    if label_kind not in LABEL_KINDS:
        raise DataError(f"{source}: label_kind must be one of {', '.join(LABEL_KINDS)}; got "
                        f"{label_kind!r}")
    check_label_shapes(splits, label_kind, target_names, source=source)
    if label_kind == "class":
        check_class_labels(splits, class_names, source=source)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    if target_names and "train" in splits:
        y = np.asarray(splits["train"].labels, dtype=np.float64).reshape(len(splits["train"]), -1)
        sd = y.std(0)
        mean = tuple(float(v) for v in y.mean(0))
        std = tuple(float(v) if v > 1e-8 else 1.0 for v in sd)
    order = {m: i for i, m in enumerate(MODALITIES)}
    dims = dict(sorted(dims.items(), key=lambda kv: order.get(kv[0], 99)))
    seq = dict(sorted(seq.items(), key=lambda kv: order.get(kv[0], 99)))
    return DatasetInfo(
        name=name,
        dims=dims,
        seq_lens=seq,
        label_kind=label_kind,
        score_range=score_range,
        class_names=class_names,
        source=source,
        notes=notes,
        target_names=tuple(target_names),
        cv=dict(cv or {}),
        target_mean=mean,
        target_std=std,
    )


def save_dataset(ds: MSADataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as ``PATH.npz`` + ``PATH.json`` atomically (no pickle anywhere).

    Returns:
        The path of the ``.npz`` file.
    """
    p = Path(path)
    if p.suffix != ".npz":
        p = p.with_suffix(".npz")
    arrays: dict[str, np.ndarray] = {}
    meta_splits: dict[str, dict] = {}
    for sname, sp in ds.splits.items():
        for m, x in sp.features.items():
            arrays[f"{sname}/{m}"] = np.ascontiguousarray(x, dtype=np.float32)
            arrays[f"{sname}/{m}_lengths"] = np.asarray(sp.lengths[m], dtype=np.int64)
        arrays[f"{sname}/labels"] = np.asarray(sp.labels)
        arrays[f"{sname}/ids"] = np.asarray(sp.ids).astype(str)
        for k, v in sp.extras.items():
            arrays[f"{sname}/extra/{k}"] = np.asarray(v)
        if sp.groups is not None:
            arrays[f"{sname}/groups"] = np.asarray(sp.groups).astype(str)
        for m, v in sp.frame_valid.items():
            arrays[f"{sname}/{m}_valid"] = np.asarray(v, dtype=bool)
        meta_splits[sname] = {"n": len(sp), "modalities": list(sp.modalities),
                              "extras": sorted(sp.extras), "groups": sp.groups is not None}
        if sp.frame_valid:
            meta_splits[sname]["frame_valid"] = sorted(sp.frame_valid)
    meta = {
        "format": "robustmsa-dataset",
        "format_version": FORMAT_VERSION,
        "info": ds.info.to_dict(),
        "splits": meta_splits,
    }
    atomic_write(p, lambda fh: np.savez_compressed(fh, **arrays))
    atomic_write(
        p.with_suffix(".json"), lambda fh: fh.write(json.dumps(meta, indent=2).encode())
    )
    return p


def load_dataset(path: str | os.PathLike) -> MSADataset:
    """Read a dataset written by `save_dataset` (``.npz`` + ``.json``), validating it."""
    p = Path(path)
    if p.suffix == ".json":
        p = p.with_suffix(".npz")
    meta_path = p.with_suffix(".json")
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if not meta_path.exists():
        raise DataError(f"{p}: metadata sidecar {meta_path.name} not found")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{meta_path}: not valid JSON ({e})") from None
    except OSError as e:
        raise DataError(f"{meta_path}: cannot read ({e.strerror or e})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path}: the top level must be a JSON object; got "
                        f"{type(meta).__name__}")
    if meta.get("format") != "robustmsa-dataset":
        raise DataError(f"{meta_path}: field 'format' is not 'robustmsa-dataset'")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{meta_path}: format_version {meta.get('format_version')} is not supported "
            f"(this robustmsa reads {FORMAT_VERSION})"
        )
    try:
        npz = np.load(p, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DataError(f"{p}: not an .npz archive (it holds a single array)")
        with npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{p}: not a readable .npz archive ({' '.join(str(e).split())})") from None
    if not isinstance(meta.get("splits"), dict) or not meta["splits"]:
        raise DataError(f"{meta_path}: field 'splits' missing or not an object of splits")
    if not isinstance(meta.get("info"), dict):
        raise DataError(f"{meta_path}: field 'info' missing or not an object")
    try:
        info = DatasetInfo.from_dict(meta["info"])
    except ValueError as e:
        raise DataError(f"{meta_path}: field 'info': {e}") from None
    splits: dict[str, MSASplit] = {}
    for sname, sm in meta["splits"].items():
        if not isinstance(sm, dict) or not isinstance(sm.get("modalities"), list) or \
                not isinstance(sm.get("extras", []), list):
            raise DataError(f"{meta_path}: field 'splits.{sname}' must be an object with a "
                            "'modalities' list")
        try:
            feats = {m: arrays[f"{sname}/{m}"] for m in sm["modalities"]}
            lens = {m: arrays[f"{sname}/{m}_lengths"] for m in sm["modalities"]}
            labels = arrays[f"{sname}/labels"]
            ids = arrays[f"{sname}/ids"]
            extras = {k: arrays[f"{sname}/extra/{k}"] for k in sm.get("extras", [])}
            groups = arrays[f"{sname}/groups"] if sm.get("groups") else None
            valid = {m: arrays[f"{sname}/{m}_valid"] for m in sm.get("frame_valid", [])}
        except KeyError as e:
            raise DataError(f"{p}: split {sname!r} lacks array {e.args[0]!r}") from None
        splits[sname] = MSASplit(feats, lens, labels, ids, extras, groups, valid)
    checked = infer_info(
        splits, name=info.name, source=str(p), label_kind=info.label_kind,
        score_range=info.score_range, class_names=info.class_names, notes=info.notes,
        target_names=info.target_names, cv=info.cv,
    )
    return MSADataset(splits=splits, info=checked)
