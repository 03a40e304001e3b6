"""Experiment configuration: nested dataclasses, YAML overrides and ``key.sub=value`` dotlists.

YAML files hold overrides of the documented dataclass defaults only. Unknown keys are errors
that name the offending field. The resolved config is written into every run directory.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from robustmsa.errors import ConfigError
from robustmsa.nn.backbone import BackboneConfig

DEVICE_PATTERN = re.compile(r"cpu|auto|mps|cuda(:\d+)?")


@dataclass
class DataConfig:
    """Attributes:
    source: dataset path or built-in name (``synthetic:small``, ``synthetic:mosi``,
        ``mosi_bclstm``, a ``.npz``/``.pkl`` file or a dataset folder).
    seed: seed of data generation / validation carving where the source needs one.
    standardize: standardise every feature with mean / std of the training split's valid
        frames (stored in checkpoints for inference); missing entries stay exactly zero.
    cv_folds: K > 0 = grouped K-fold cross-validation (folds by video, stratified for class
        labels; `robustmsa.data.cv`); 0 = the dataset's own splits.
    cv_fold: which fold is the test split (0..K-1); validation = fold (i + 1) mod K.
    cv_pool: splits pooled for the folds (empty = all; ICT-MMMO trimodal: [valid, test]).
    cv_seed: seed of the fold assignment (independent of the training seed).
    """

    source: str = "synthetic:small"
    seed: int = 0
    standardize: bool = True
    cv_folds: int = 0
    cv_fold: int = 0
    cv_pool: list[str] = field(default_factory=list)
    cv_seed: int = 0

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ConfigError("data.source must not be empty")
        if self.seed < 0:
            raise ConfigError(f"data.seed must be >= 0; got {self.seed}")
        if self.cv_folds < 0 or (self.cv_folds and self.cv_folds < 3):
            raise ConfigError(f"data.cv_folds must be 0 (no CV) or >= 3; got {self.cv_folds}")
        if self.cv_folds and not 0 <= self.cv_fold < self.cv_folds:
            raise ConfigError(f"data.cv_fold must be in [0, {self.cv_folds - 1}]; got "
                              f"{self.cv_fold}")
        if self.cv_seed < 0:
            raise ConfigError(f"data.cv_seed must be >= 0; got {self.cv_seed}")

    def load(self):
        """The *raw* dataset this config describes, with its cross-validation fold carved when
        ``cv_folds`` is set (a fold is a different dataset: `robustmsa.data.cv.carve_fold`).
        Never standardised here: the trainer standardises with its training split, and every
        consumer prepares data for a checkpoint with
        `robustmsa.data.prepare.prepare_for_checkpoint` (which carves a checkpoint's fold
        itself from uncarved data)."""
        from robustmsa.data import load_data
        from robustmsa.data.cv import cv_spec, fold_for

        return fold_for(load_data(self.source, seed=self.seed), cv_spec(self))


@dataclass
class TaskConfig:
    """Attributes: kind: polarity2 | sentiment3 | sentiment7 | regression | native."""

    kind: str = "polarity2"


@dataclass
class TrainConfig:
    """Attributes:
    epochs: maximum epochs (CorrKD/HRLF MOSI: 50).
    batch_size: mini-batch size (HRLF MOSI: 128).
    lr: Adam learning rate (HRLF MOSI: 1e-3).
    weight_decay: Adam weight decay (unknown in the paper; 0).
    grad_clip: max gradient norm (MulT default 0.8-1.0); 0 disables.
    patience: early-stopping patience in epochs on the validation selection score.
    select_metric: validation metric used for model selection (higher is better, except MAE,
        which is lower is better; logged as itself with its direction).
    min_delta: an epoch becomes the best one only if it improves the selection score by more
        than this (ties and smaller gains keep the earlier epoch); see
        `robustmsa.engine.selection` for why 1e-4.
    select_conditions: conditions averaged for selection; empty = the method's default
        (teacher: complete; students: complete + the 6 incomplete subsets).
    missing: training missingness condition for student methods; empty = method default
        (``mrm`` for the KD students).
    valid_mask_seed: mask seed of the validation conditions (fixed: selection is reproducible).
    progress: show a progress bar.
    log_every: write a step record to metrics.jsonl every N steps.
    device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when available).
    loss_balance: measure each loss term's value, gradient norm and share of the update on a
        fixed training batch before the first step and after every epoch
        (`robustmsa.engine.diagnostics`; never changes the training trajectory).
    threads: torch intra-op threads while this run trains (restored afterwards; recorded in
        the run's env.json); 0 = leave the process setting alone (torch's default is one per
        core). Default 1: this model is small, so a second thread gains little on an idle
        machine and costs several-fold when other jobs share the cores (measured in
        ``benchmarks/train_speed.py``); ``robustmsa benchmark --workers N`` runs N
        single-thread trainings side by side.
    """

    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    patience: int = 10
    select_metric: str = "F1"
    min_delta: float = 1e-4
    select_conditions: list[str] = field(default_factory=list)
    missing: str = ""
    valid_mask_seed: int = 0
    progress: bool = True
    log_every: int = 1
    device: str = "cpu"
    loss_balance: bool = True
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1; got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"train.lr must be a finite number > 0; got {self.lr}")
        for name in ("weight_decay", "grad_clip"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ConfigError(f"train.{name} must be a finite number >= 0; got {v}")
        if self.valid_mask_seed < 0:
            raise ConfigError(f"train.valid_mask_seed must be >= 0; got {self.valid_mask_seed}")
        if not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ConfigError(f"train.min_delta must be a finite number >= 0; got {self.min_delta}")
        if not self.select_metric.strip():
            raise ConfigError("train.select_metric must not be empty")
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ConfigError(f"train.device {self.device!r} is not a device; use cpu, auto, "
                              "cuda or cuda:N")
        from robustmsa.missing import parse_condition  # parse-time check of every condition

        for i, c in enumerate(self.select_conditions):
            _check_condition(parse_condition, c, f"train.select_conditions[{i}]")
        if self.missing:
            _check_condition(parse_condition, self.missing, "train.missing")
        if self.threads < 0:
            raise ConfigError(f"train.threads must be >= 0 (0 = torch's default); got {self.threads}")


@dataclass
class ExperimentConfig:
    """A whole training run: data, task, model, training, method and seed.

    Attributes:
        method: registry key of the method (``robustmsa list methods``).
        method_config: overrides of the method's own Config dataclass.
        teacher: path of a trained ``teacher`` checkpoint (frozen-teacher methods).
        seed: training seed (initialisation, shuffling, dropout, training masks).
        name: run label used in reports (defaults to the method name).
    """

    method: str = "teacher"
    method_config: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    model: BackboneConfig = field(default_factory=BackboneConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    teacher: str = ""
    seed: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0; got {self.seed}")


def _check_condition(parse, cond: str, where: str) -> None:
    try:
        parse(cond)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errs = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except ConfigError as e:
                errs.append(str(e))
        raise ConfigError(f"{where}: {value!r} does not fit {tp}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dataclass_from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (inner, *_) = typing.get_args(tp) or (Any,)
        return origin(_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def dataclass_from_dict(cls: type, values: dict[str, Any], where: str = "config") -> Any:
    """Build dataclass ``cls`` from ``values``; unknown keys and wrong types raise ConfigError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(names))}"
        )
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from None


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) -> plain dict for YAML/JSON/checkpoints."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def _set_dotted(d: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
        if not isinstance(d, dict):
            raise ConfigError(f"override {dotted!r}: {k!r} is not a section")
    d[keys[-1]] = value


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _field_type(schema: Any, dotted: str) -> Any:
    """Declared type of ``dotted`` in dataclass ``schema`` (None when unknown / untyped)."""
    tp = schema
    for k in dotted.split("."):
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            return None
        hints = typing.get_type_hints(tp)
        if k not in hints:
            return None
        tp = hints[k]
    return tp


def _one_line(msg: object) -> str:
    return " ".join(str(msg).split())


def parse_overrides(overrides: list[str], schema: Any = None) -> dict:
    """``["train.epochs=3", "method_config.margin=2"]`` -> nested dict.

    Values are parsed as YAML, except for fields that ``schema`` (a config dataclass) declares
    as ``str`` — paths, names, conditions — which are taken literally, so ``data.source=[x].npz``
    or a path that is not valid UTF-8 is a string, not a YAML error (matching outer quotes are
    removed).
    """
    out: dict = {}
    for o in overrides:
        if "=" not in o:
            raise ConfigError(f"override {o!r} must look like key.sub=value")
        k, v = o.split("=", 1)
        k = k.strip()
        if schema is not None and _field_type(schema, k) is str:
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            _set_dotted(out, k, v)
            continue
        try:
            value = yaml.safe_load(v) if v != "" else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"override {o!r}: the value is not valid YAML "
                              f"({_one_line(getattr(e, 'problem', None) or e)}); quote it") from None
        _set_dotted(out, k, value)
    return out


def read_yaml(path: str | Path) -> dict:
    """The mapping in YAML file ``path``; every problem is a `ConfigError` naming the file."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: config file not found")
    if not p.is_file():
        raise ConfigError(f"{p}: is a directory, not a YAML config file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the config file ({e.strerror or e})") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({_one_line(e)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Defaults <- YAML file <- dotlist overrides, validated."""
    raw = read_yaml(path) if path else {}
    raw = deep_merge(raw, parse_overrides(overrides or [], ExperimentConfig))
    return dataclass_from_dict(ExperimentConfig, raw, "config")
