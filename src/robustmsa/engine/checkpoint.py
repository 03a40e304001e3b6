"""Self-describing checkpoints, written atomically and loaded with ``weights_only=True``.

Layout (a plain dict of tensors and primitives):

| key | content |
|---|---|
| ``format`` / ``format_version`` | ``"robustmsa-checkpoint"`` / `FORMAT_VERSION` |
| ``robustmsa_version``, ``torch_version`` | versions that wrote it |
| ``kind`` | ``"best"`` (deployable) or ``"last"`` (resumable) |
| ``method`` | registry key |
| ``config`` | the resolved `ExperimentConfig` as a dict |
| ``dataset_info``, ``task`` | what the model was built for |
| ``student`` | deployable weights only |
| ``method_state`` | training-only state (statistics networks, ...) |
| ``epoch``, ``best_score``, ``extractor`` | bookkeeping; extractor config of raw-media data |
| ``normalization`` | modality -> ``{"mean", "std"}`` (D,) float32 tensors of the training split's
  valid frames; ``{}`` = the model sees raw features (`robustmsa.data.prepare`) |
| ``resume`` | (last only) full method state, optimizer, RNG states, trainer counters, the byte
  length of ``metrics.jsonl`` when it was written |

`load_checkpoint` checks the header and the type of every field a consumer reads, so a damaged
or hand-edited checkpoint is one `CheckpointError` naming the file and the field.
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from robustmsa import __version__
from robustmsa.errors import CheckpointError
from robustmsa.fileio import atomic_write

FORMAT = "robustmsa-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``payload`` (+ format header) atomically: a crash never leaves a torn file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "robustmsa_version": __version__,
        "torch_version": str(torch.__version__),
        **payload,
    }
    buf = io.BytesIO()  # serialise first: a failing disk write is then a plain OSError
    torch.save(data, buf)
    atomic_write(p, buf.getvalue())
    return p


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check its header."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: checkpoint not found")
    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            data = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's text goes on to suggest weights_only=False
        raise CheckpointError(
            f"{p}: not a loadable robustmsa checkpoint (refused by the safe loader, "
            "torch.load(weights_only=True): it holds objects other than tensors and plain "
            "data, or is not a checkpoint)"
        ) from None
    except Exception as e:  # torch raises many types for corrupt files
        raise CheckpointError(
            f"{p}: not a loadable robustmsa checkpoint ({type(e).__name__}: "
            f"{' '.join(str(e).split())[:200]})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{p}: field 'format' is not {FORMAT!r}")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{p}: format_version {data.get('format_version')} is not supported "
            f"(this robustmsa reads {FORMAT_VERSION})"
        )
    for key in ("method", "config", "dataset_info", "task", "student"):
        if key not in data:
            raise CheckpointError(f"{p}: missing field {key!r}")
    check_fields(data, p)
    return data


def check_fields(ck: dict[str, Any], path: str | os.PathLike) -> None:
    """Raise `CheckpointError` naming the field unless the fields consumers read are well-typed."""
    from robustmsa.data.schema import DatasetInfo

    for key, tp in (("method", str), ("config", dict), ("dataset_info", dict), ("task", dict),
                    ("student", dict)):
        if not isinstance(ck.get(key), tp):
            raise CheckpointError(f"{path}: field {key!r} must be a {tp.__name__}; got "
                                  f"{type(ck.get(key)).__name__}")
    try:
        DatasetInfo.from_dict(ck["dataset_info"])
    except ValueError as e:
        raise CheckpointError(f"{path}: field 'dataset_info': {e}") from None
    if not isinstance(ck["task"].get("kind"), str):
        raise CheckpointError(f"{path}: field 'task' lacks 'kind'")
    norm = ck.get("normalization", {}) or {}
    if not isinstance(norm, dict):
        raise CheckpointError(f"{path}: field 'normalization' must be a dict")
    for m, st in norm.items():
        if not (isinstance(st, dict) and all(isinstance(st.get(k), torch.Tensor)
                                             for k in ("mean", "std"))):
            raise CheckpointError(f"{path}: field 'normalization.{m}' must hold 'mean' and "
                                  "'std' tensors")
