"""Data layer: schema, safe readers for every supported format, the synthetic benchmark, and
one entry point, `load_data`.

``load_data(spec)`` accepts

- a built-in name: ``synthetic`` (= ``synthetic:mosi``), ``synthetic:mosi``,
  ``synthetic:small`` (generated with ``random_state=seed``), or the name of a real dataset
  folder (``mosi_bclstm``, ``ict_mmmo_mfn``, ``pom_mfn``, ``youtube_mfn``; ``NAME:VARIANT`` such
  as ``mosi_bclstm:score`` or ``ict_mmmo_mfn:binary``), looked up as ``../shared/data/<name>``
  relative to the repository root and to the current directory's parent;
- a path: the project's ``.npz``/``.json``, an MMSA / MulT / MMSA-FET pickle (read with the
  restricted unpickler), or a dataset folder (format auto-detected, see
  `robustmsa.data.readers`).
"""

from __future__ import annotations

import os
from pathlib import Path

from robustmsa.data.readers import (
    FOLDER_FORMATS,
    PICKLE_FORMATS,
    detect_format,
    read_fet_dataset,
    read_fet_features,
    read_mfn,
    read_mmsa_pickle,
    read_mosi_bclstm,
    read_mult_pickle,
    read_path,
)
from robustmsa.data.safe_pickle import safe_load_pickle
from robustmsa.data.schema import (
    SPLITS,
    DatasetInfo,
    MSADataset,
    MSASplit,
    infer_info,
    load_dataset,
    save_dataset,
    validate_split,
)
from robustmsa.data.synthetic import PRESETS, make_synthetic_msa, make_synthetic_preset
from robustmsa.errors import DataError

__all__ = [
    "BUILTIN_NAMES",
    "DatasetInfo",
    "FOLDER_FORMATS",
    "MSADataset",
    "MSASplit",
    "PICKLE_FORMATS",
    "PRESETS",
    "SPLITS",
    "detect_format",
    "infer_info",
    "load_data",
    "load_dataset",
    "make_synthetic_msa",
    "make_synthetic_preset",
    "read_fet_dataset",
    "read_fet_features",
    "read_mfn",
    "read_mmsa_pickle",
    "read_mosi_bclstm",
    "read_mult_pickle",
    "read_path",
    "resolve_shared_dataset",
    "safe_load_pickle",
    "save_dataset",
    "shared_data_roots",
    "validate_split",
]

SYNTHETIC_DEFAULT_PRESET = "mosi"
BUILTIN_NAMES: tuple[str, ...] = (
    "synthetic", *(f"synthetic:{p}" for p in PRESETS),
    *(n for n in FOLDER_FORMATS.names() if FOLDER_FORMATS.get(n).builtin),
)


def _repo_root() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "robustmsa").is_dir():
            return parent
    return None


def shared_data_roots() -> list[Path]:
    """Folders searched for built-in real datasets: ``<repo root>/../shared/data`` and
    ``<cwd>/../shared/data`` (existing ones only, no duplicates)."""
    cands = [Path.cwd().parent / "shared" / "data"]
    root = _repo_root()
    if root is not None:
        cands.insert(0, root.parent / "shared" / "data")
    out: list[Path] = []
    for c in cands:
        c = c.resolve()
        if c.is_dir() and c not in out:
            out.append(c)
    return out


def resolve_shared_dataset(name: str) -> Path:
    """The folder of built-in real dataset ``name`` (e.g. ``mosi_bclstm``).

    Raises:
        DataError: no ``shared/data/<name>`` folder was found (the message lists where).
    """
    for root in shared_data_roots():
        if (root / name).is_dir():
            return root / name
    looked = [str(Path.cwd().parent / "shared" / "data")]
    root = _repo_root()
    if root is not None:
        looked.insert(0, str(root.parent / "shared" / "data"))
    raise DataError(
        f"dataset {name!r}: folder not found in {' or '.join(looked)}; pass the folder's path "
        "instead"
    )


def load_data(spec: str | os.PathLike, *, seed: int = 0) -> MSADataset:
    """Load a dataset from a path or a built-in name (see the module docstring).

    Args:
        spec: path (file or folder) or built-in name (`BUILTIN_NAMES`).
        seed: ``random_state`` of synthetic data; the validation-video choice of folder
            datasets such as ``mosi_bclstm``. Unused for pickles and ``.npz`` files.

    Returns:
        The validated dataset (dims and lengths inferred from the data).

    Raises:
        DataError: unknown name, missing/unsafe/invalid file.
    """
    text = os.fspath(spec)
    if text == "synthetic" or text.startswith("synthetic:"):
        preset = text.partition(":")[2] or SYNTHETIC_DEFAULT_PRESET
        if preset not in PRESETS:
            raise DataError(f"unknown synthetic preset {preset!r} in {text!r}; valid: "
                            f"{', '.join('synthetic:' + p for p in PRESETS)}")
        return make_synthetic_preset(preset, random_state=seed)
    p = Path(text)
    if p.exists():
        return read_path(p, seed=seed)
    base, _, variant = text.rpartition(":") if ":" in text else (text, "", "")
    if ":" in text and Path(base).is_dir():
        return read_path(Path(base), seed=seed, variant=variant)
    if text in BUILTIN_NAMES:
        return read_path(resolve_shared_dataset(text), seed=seed)
    if base in BUILTIN_NAMES:
        return read_path(resolve_shared_dataset(base), seed=seed, variant=variant)
    raise DataError(
        f"{text}: no such file or folder, and not a built-in dataset "
        f"({', '.join(BUILTIN_NAMES)})"
    )
