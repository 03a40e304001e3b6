"""``evaluate``: checkpoints x protocols x mask seeds -> tidy records (+ report).

Record format (one number per record, any table can be rebuilt from it)::

    {"name", "method", "checkpoint", "dataset", "protocol", "condition", "seed", "mask_seed",
     "metric", "value", "missing_input"[, "fold"]}

``name`` is the run label (a report row), ``method`` the registry key, ``checkpoint`` the path
the model was loaded from ("" for a model in memory), ``seed`` the training seed of the run,
``mask_seed`` the evaluation mask seed, ``missing_input`` the convention the model actually ran
under (``"zeros"`` | ``"mask"``, `robustmsa.nn.backbone`; ``"mask"`` for checkpoints older
than the option, or what ``evaluate(missing_input=...)`` imposed), ``fold`` the
cross-validation fold of a fold checkpoint (absent otherwise).

Run identity is (name, seed, fold): the default ``name`` is the run's config ``name``, else its
run directory's name (above ``seedN`` / ``foldF`` levels), else the method. The folds of one
run share its name and seed and are different units of the same row (the report averages over
seeds and folds). Two different checkpoints never share a (name, seed, fold): a clash among
default names is resolved by appending ``@`` and the run directory (logged as a warning); a
clash among names given explicitly is an error.

Every checkpoint sees the raw data prepared for it by
`robustmsa.data.prepare.prepare_for_checkpoint` (its own stored standardisation, its own CV
fold carved); masks depend only on sample ids, lengths and frame masks, so all checkpoints of
one test split share identical masks."""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robustmsa.data.prepare import preparation_key, prepare_for_checkpoint
from robustmsa.data.schema import MSADataset
from robustmsa.engine.builder import LEGACY_MISSING_INPUT
from robustmsa.errors import ConfigError
from robustmsa.evaluation.evaluator import MaskCache, evaluate_conditions
from robustmsa.evaluation.protocols import Protocol, get_protocol, incomplete_subsets
from robustmsa.fileio import displayable
from robustmsa.inference import load_method
from robustmsa.metrics import area_under_curve
from robustmsa.missing import parse_condition

logger = logging.getLogger(__name__)


def _summaries(protocol, recs: list[dict], modalities: tuple[str, ...] | None = None) -> list[dict]:
    """Summary records of one protocol ("Avg." over the dataset's incomplete subsets, AUC over
    the rates that leave some input: frame/block drop at 1.0 is left out). ``coverage``
    (a property of the data, not a score) gets no summary."""
    if not protocol.summary:
        return []
    by = defaultdict(dict)  # (mask_seed, metric) -> condition -> value
    for r in recs:
        if r["metric"] != "coverage":
            by[(r["mask_seed"], r["metric"])][r["condition"]] = r["value"]
    subsets = incomplete_subsets(modalities)
    out = []
    for (ms, metric), vals in by.items():
        if protocol.summary == "avg_incomplete":
            if subsets and all(c in vals for c in subsets):
                out.append({"condition": "avg_incomplete", "mask_seed": ms, "metric": metric,
                            "value": float(np.mean([vals[c] for c in subsets]))})
        else:
            conds = [c for c in protocol.conditions
                     if c in vals and not parse_condition(c).empties_all]
            ys = [vals[c] for c in conds]
            if protocol.summary == "auc":
                v = area_under_curve([protocol.rate(c) for c in conds], ys)
                out.append({"condition": "auc", "mask_seed": ms, "metric": metric, "value": v})
            else:
                out.append({"condition": "mean", "mask_seed": ms, "metric": metric,
                            "value": float(np.mean(ys))})
    return out


def run_root(path: str | Path) -> Path:
    """The run's directory above the seed / fold levels of a benchmark layout
    (``RUN/seedS/best.pt``, ``RUN/foldF/seedS/best.pt`` -> ``RUN``)."""
    d = Path(path).parent
    if re.fullmatch(r"seed\d+", d.name) and d.parent.name:
        d = d.parent
        if re.fullmatch(r"fold\d+", d.name) and d.parent.name:
            d = d.parent
    return d


def run_dir_name(path: str | Path) -> str:
    """Run label from a checkpoint path: its directory's name, or the run's directory above
    ``seedN`` (and ``foldF``) levels (``runs/demo/teacher/seed0/best.pt`` -> ``teacher``,
    ``runs/cv/teacher/fold2/seed0/best.pt`` -> ``teacher``)."""
    return run_root(Path(path).resolve()).name


def run_label(ck: dict[str, Any], path: str | Path | None = None, name: str | None = None
              ) -> dict[str, Any]:
    """The identity fields of a checkpoint's records: name, method, checkpoint, seed,
    missing_input, and ``fold`` for a cross-validation fold checkpoint (its
    ``dataset_info.cv``); ``name`` overrides the default, see the module docstring."""
    cfg = ck.get("config") or {}
    default = cfg.get("name") or (run_dir_name(path) if path else "") or ck["method"]
    label = {
        "name": displayable(name or default),  # a report row: valid text even for odd paths
        "method": ck["method"],
        "checkpoint": str(path) if path is not None else "",
        "seed": int(cfg.get("seed", 0)),
        "missing_input": str((cfg.get("model") or {}).get("missing_input",
                                                          LEGACY_MISSING_INPUT)),
    }
    cv = (ck.get("dataset_info") or {}).get("cv") or {}
    if cv:
        label["fold"] = int(cv["fold"])
    return label


def unique_labels(labels: list[dict[str, Any]], explicit: bool) -> list[dict[str, Any]]:
    """Make (name, seed, fold) unique across different checkpoints (module docstring).

    Raises:
        ConfigError: a checkpoint given twice, or explicit names that clash.
    """
    seen: dict[str, int] = {}
    for i, lab in enumerate(labels):
        key = str(Path(lab["checkpoint"]).resolve()) if lab["checkpoint"] else f"#{i}"
        if key in seen:
            raise ConfigError(f"checkpoint {lab['checkpoint']} is given twice")
        seen[key] = i

    def clashes(labs: list[dict[str, Any]]) -> dict[tuple, list[int]]:
        by: dict[tuple, list[int]] = defaultdict(list)
        for i, lab in enumerate(labs):
            by[(lab["name"], lab["seed"], lab.get("fold"))].append(i)
        return {k: v for k, v in by.items() if len(v) > 1}

    bad = clashes(labels)
    if not bad:
        return labels
    if explicit:
        (name, seed, _), idx = next(iter(bad.items()))
        raise ConfigError(
            f"--name {name!r} is given to {len(idx)} checkpoints with training seed {seed} "
            f"({', '.join(labels[i]['checkpoint'] for i in idx)}): they would be averaged as "
            "one run; give them different names"
        )
    clashing = {labels[i]["name"] for idx in bad.values() for i in idx}

    def root_of(i: int) -> str:
        return str(run_root(labels[i]["checkpoint"]))

    qualifiers = (root_of, lambda i: labels[i]["checkpoint"], lambda i: f"#{i}")
    for qualify in qualifiers:  # the least specific qualifier that separates every run
        out = [dict(lab, name=f"{lab['name']}@{qualify(i)}") if lab["name"] in clashing
               else dict(lab) for i, lab in enumerate(labels)]
        if not clashes(out):
            break
    for i, lab in enumerate(out):
        if lab["name"] != labels[i]["name"]:
            logger.warning("checkpoints share the run name %r and seed: %s is reported as %r "
                           "(use --name to choose)", labels[i]["name"], lab["checkpoint"],
                           lab["name"])
    return out


def data_protocol(proto: Protocol, modalities: tuple[str, ...]) -> Protocol:
    """``subsets`` restricted to the data's modalities (complete + its incomplete subsets: the
    6 of text/audio/vision, or ``a``, ``v`` for audio + vision data); others unchanged."""
    if proto.name != "subsets":
        return proto
    return Protocol(proto.name, ("complete", *incomplete_subsets(modalities)), proto.summary)


def method_missing_input(method: torch.nn.Module) -> str:
    """The missing-input convention a built method runs under."""
    model_cfg = getattr(method, "model_cfg", None)
    return str(getattr(model_cfg, "missing_input", LEGACY_MISSING_INPUT))


def evaluate_method(
    method: torch.nn.Module,
    data: MSADataset,
    *,
    protocols: Iterable[str] = ("subsets", "frame_drop"),
    conditions: Iterable[str] = (),
    mask_seeds: Iterable[int] = (0, 1, 2),
    split: str = "test",
    label: dict | None = None,
    cache: MaskCache | None = None,
    device: str | torch.device = "cpu",
    checkpoint: dict | None = None,
) -> tuple[list[dict], float]:
    """Records for one method; returns (records, seconds spent).

    Args:
        data: the **raw** dataset; it is prepared for ``checkpoint`` (default: the one
            `load_method` recorded on the method) by `prepare_for_checkpoint`. A method built
            in memory, without a checkpoint, gets ``data`` as given.
        label: identity fields of the records (`run_label`); default from the checkpoint.
    """
    cache = cache or MaskCache()
    ck = checkpoint if checkpoint is not None else getattr(method, "checkpoint_", None)
    path = getattr(method, "checkpoint_path_", None)
    if ck is not None:
        data = prepare_for_checkpoint(ck, data, splits=[split], source=path)
        label = label if label is not None else run_label(ck, path)
    sp = data[split]
    label = dict(label or {})
    label["missing_input"] = method_missing_input(method)  # what it actually ran under
    t0 = time.perf_counter()
    out: list[dict] = []
    plan = [(get_protocol(p).name, data_protocol(get_protocol(p), sp.modalities))
            for p in protocols]
    if conditions:
        plan.append(("custom", Protocol("custom", tuple(conditions))))
    for pname, proto in plan:
        seeds = list(mask_seeds)
        recs = evaluate_conditions(method, sp, split_name=split, conditions=proto.conditions,
                                   mask_seeds=seeds, cache=cache, device=device)
        recs += _summaries(proto, recs, data.info.modalities)
        for r in recs:
            out.append({**label, "dataset": data.info.name, "protocol": pname, **r})
    return out, time.perf_counter() - t0


def evaluate(
    checkpoints: Iterable[str | Path],
    data: MSADataset,
    *,
    names: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    missing_input: str | None = None,
    **kwargs,
) -> tuple[list[dict], dict[str, float]]:
    """Evaluate several checkpoints on identical masks; returns (records, seconds per run).

    Args:
        checkpoints: checkpoint paths.
        data: the **raw** dataset; each checkpoint gets it prepared with its own statistics.
        names: run names, one per checkpoint (default: see the module docstring).
        progress: when given, receives one line per checkpoint as it finishes
            (``"checkpoint 2/5: corrkd seed 1 (runs/c/best.pt) 3.2 s"``).
        missing_input: "zeros" | "mask": run every checkpoint under that convention instead
            of the one it was trained with (the records state the convention used).
        **kwargs: `evaluate_method` options (protocols, conditions, mask_seeds, split, ...).

    Raises:
        ConfigError: a checkpoint given twice, ``names`` of the wrong length or clashing.
    """
    paths = list(checkpoints)
    if names is not None and len(names) != len(paths):
        raise ConfigError(f"--name is given {len(names)} time(s) for {len(paths)} checkpoint(s); "
                          "give one name per checkpoint, in the same order")
    cache = kwargs.pop("cache", None) or MaskCache()
    split = kwargs.get("split", "test")
    loaded = [load_method(p, missing_input=missing_input) for p in paths]
    labels = unique_labels([run_label(ck, p, names[i] if names else None)
                            for i, (p, (_, ck)) in enumerate(zip(paths, loaded, strict=True))],
                           explicit=names is not None)
    prepared: dict[str, MSADataset] = {}  # by statistics: checkpoints of one training set share
    records, timing = [], {}
    for i, (p, (method, ck), label) in enumerate(zip(paths, loaded, labels, strict=True), 1):
        key = preparation_key(ck, str(p))  # statistics and CV fold
        ds = prepare_for_checkpoint(ck, prepared.get(key, data), splits=[split], source=str(p))
        prepared[key] = ds
        recs, secs = evaluate_method(method, ds, label=label, cache=cache, checkpoint=ck,
                                     **kwargs)
        records += recs
        timing[str(p)] = secs
        if progress is not None:
            fold = f" fold {label['fold']}" if label.get("fold") is not None else ""
            progress(f"checkpoint {i}/{len(paths)}: {label['name']} seed {label['seed']}{fold} "
                     f"({p}) {secs:.1f} s")
    return records, timing
