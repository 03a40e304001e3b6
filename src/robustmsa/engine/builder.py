"""Turn an `ExperimentConfig` (+ data) into a built method, loading a teacher when needed."""

from __future__ import annotations

from robustmsa.config import ExperimentConfig, dataclass_from_dict, to_dict
from robustmsa.data.schema import DatasetInfo
from robustmsa.engine.checkpoint import load_checkpoint
from robustmsa.errors import CheckpointError, ConfigError
from robustmsa.methods import METHODS, Method
from robustmsa.nn.backbone import BackboneConfig, MultimodalNet
from robustmsa.tasks import Task


def method_class(name: str) -> type[Method]:
    try:
        return METHODS.get(name)
    except KeyError as e:
        raise ConfigError(str(e.args[0])) from None


REGULARISATION_FIELDS = frozenset({"dropout", "embed_dropout"})
# model fields that are not architecture: the same weights run under any value
NON_ARCHITECTURE_FIELDS = REGULARISATION_FIELDS | {"missing_input"}
# checkpoints written before `model.missing_input` existed ran the "mask" convention
LEGACY_MISSING_INPUT = "mask"


def checkpoint_config(ck: dict, missing_input: str | None = None) -> dict:
    """The experiment-config dict of checkpoint ``ck``, with defaults that differ for old
    checkpoints filled in (``model.missing_input = "mask"`` when absent) and an optional
    ``missing_input`` override (evaluation under the other convention)."""
    if not isinstance(ck.get("config"), dict) or not isinstance(ck["config"].get("model", {}), dict):
        return ck.get("config")  # not a config: the caller's validation names the field
    cfg = dict(ck["config"])
    model = dict(cfg.get("model", {}))
    model.setdefault("missing_input", LEGACY_MISSING_INPUT)
    if missing_input is not None:
        model["missing_input"] = missing_input
    cfg["model"] = model
    return cfg


def load_teacher_net(path: str, info: DatasetInfo, task: Task, model: BackboneConfig) -> MultimodalNet:
    """Load a trained ``teacher`` checkpoint and check it matches the data, task and model."""
    ck = load_checkpoint(path)
    if ck["method"] != "teacher":
        raise CheckpointError(f"{path}: is a {ck['method']!r} checkpoint, not a 'teacher' one")
    if dict(ck["dataset_info"]["dims"]) != dict(info.dims):
        raise CheckpointError(
            f"{path}: teacher was trained on dims {ck['dataset_info']['dims']}, data has {info.dims}"
        )
    if ck["task"]["kind"] != task.kind:
        raise CheckpointError(f"{path}: teacher task {ck['task']['kind']!r} != {task.kind!r}")
    # dropout rates are regularisation, not architecture: a frozen teacher runs in eval mode;
    # missing_input is an input convention: the teacher runs under the student's
    arch = {k: v for k, v in to_dict(model).items() if k not in NON_ARCHITECTURE_FIELDS}
    t_arch = {k: v for k, v in ck["config"]["model"].items() if k not in NON_ARCHITECTURE_FIELDS}
    if t_arch != arch:
        diff = ", ".join(f"model.{k}: teacher {t_arch.get(k)!r}, student {arch.get(k)!r}"
                         for k in sorted(set(arch) | set(t_arch)) if arch.get(k) != t_arch.get(k))
        raise CheckpointError(f"{path}: teacher architecture differs from the student's ({diff})")
    t_model = dataclass_from_dict(BackboneConfig, checkpoint_config(ck, model.missing_input)["model"],
                                  f"{path}: model")
    net = MultimodalNet(info.dims, task.num_outputs, t_model)
    net.load_state_dict(ck["student"])
    return net


def build_method(cfg: ExperimentConfig, info: DatasetInfo, *, for_training: bool = True) -> Method:
    """Build ``cfg.method`` for ``info``; frozen-teacher methods load ``cfg.teacher``."""
    cls = method_class(cfg.method)
    try:
        task = Task.build(cfg.task.kind, info)
    except ValueError as e:
        raise ConfigError(f"task.kind: {e}") from None
    mcfg = dataclass_from_dict(cls.Config, cfg.method_config, "method_config")
    teacher = None
    if cls.teacher_mode == "frozen" and for_training:
        if not cfg.teacher:
            raise ConfigError(
                f"method {cfg.method!r} needs a trained teacher: set teacher=PATH/best.pt "
                "(train the 'teacher' method first)"
            )
        teacher = load_teacher_net(cfg.teacher, info, task, cfg.model)
    try:
        return cls.build(mcfg, info=info, task=task, model=cfg.model, teacher=teacher)
    except ValueError as e:
        raise ConfigError(f"method {cfg.method!r}: {e}") from None
