"""Readers for every supported on-disk format, with a small registry and auto-detection.

Three kinds of input:

- **pickle files** (MMSA, MulT/MultiBench, MMSA-FET single video) are loaded once with the
  restricted unpickler (`robustmsa.data.safe_pickle`), then the first `PickleFormat` whose
  ``detect(obj)`` accepts the object builds the dataset;
- **folders** (real dataset releases such as ``mosi_bclstm``): the first `FolderFormat` whose
  ``detect(path)`` accepts the folder reads it. Adding a dataset folder = one module with
  ``detect``/``read`` + one ``FOLDER_FORMATS.register`` line here;
- the project's own ``.npz`` + ``.json`` (`robustmsa.data.schema.load_dataset`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robustmsa.data.readers import fet, mfn, mmsa, mosi_bclstm, mult
from robustmsa.data.readers.fet import read_fet_dataset, read_fet_features
from robustmsa.data.readers.mfn import read_mfn
from robustmsa.data.readers.mmsa import read_mmsa_pickle
from robustmsa.data.readers.mosi_bclstm import read_mosi_bclstm
from robustmsa.data.readers.mult import read_mult_pickle
from robustmsa.data.safe_pickle import safe_load_pickle
from robustmsa.data.schema import MSADataset, load_dataset
from robustmsa.errors import DataError
from robustmsa.registry import Registry

__all__ = [
    "FOLDER_FORMATS",
    "FolderFormat",
    "PICKLE_FORMATS",
    "PickleFormat",
    "detect_format",
    "read_fet_dataset",
    "read_fet_features",
    "read_mfn",
    "read_mmsa_pickle",
    "read_mosi_bclstm",
    "read_mult_pickle",
    "read_path",
]

OWN_SUFFIXES: tuple[str, ...] = (".npz", ".json")


@dataclass(frozen=True)
class PickleFormat:
    """A pickle layout: ``detect(obj)`` on the unpickled object, ``build(obj, source=, name=)``."""

    name: str
    description: str
    detect: Callable[[Any], bool]
    build: Callable[..., MSADataset]


@dataclass(frozen=True)
class FolderFormat:
    """A dataset folder: ``detect(path)`` on the folder, ``read(path, seed=)``.

    ``builtin``: the name is also a built-in dataset looked up in ``../shared/data/<name>``
    (False for layout-only formats such as ``mfn_h5``).
    """

    name: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[..., MSADataset]
    #: files every copy has: a folder with some but not all of them is named in the error
    required: tuple[str, ...] = ()
    builtin: bool = True


PICKLE_FORMATS: Registry[PickleFormat] = Registry("pickle format")
FOLDER_FORMATS: Registry[FolderFormat] = Registry("dataset folder format")

# Detection order matters only where layouts could overlap; these are disjoint.
for _fmt in (
    PickleFormat("mmsa", "MMSA feature pickle (aligned_50 / unaligned_50 / SIMS unaligned_39)",
                 mmsa.detect, mmsa.from_object),
    PickleFormat("mult", "MulT / MultiBench pickle (word-aligned, GloVe text)",
                 mult.detect, mult.from_object),
    PickleFormat("fet", "MMSA-FET single-video features (one unlabelled sample)",
                 fet.detect, fet.from_object),
):
    PICKLE_FORMATS.register(_fmt.name)(_fmt)
FOLDER_FORMATS.register("mosi_bclstm")(FolderFormat(
    "mosi_bclstm", "CMU-MOSI bc-LSTM release (utterance-level CSVs, 62/31-video split)",
    mosi_bclstm.detect,
    lambda path, *, seed=0, variant=None: read_mosi_bclstm(path, seed=seed,
                                                           labels=variant or "binary"),
    mosi_bclstm.REQUIRED_FILES,
))


def _mfn_format(name: str, description: str) -> FolderFormat:
    return FolderFormat(
        name, description, lambda p, _n=name: p.name == _n and mfn.detect(p),
        lambda path, *, seed=0, variant=None, _n=name: read_mfn(path, kind=_n, variant=variant),
    )


for _name, _desc in (
    ("ict_mmmo_mfn", "ICT-MMMO, MFN HDF5 release (340 videos, 20 steps; train has no text)"),
    ("pom_mfn", "POM, MFN HDF5 release (903 videos, 20 steps, audio + vision, 17 scores)"),
    ("youtube_mfn", "YouTube opinion data, MFN HDF5 release (269 utterances, 3 classes)"),
):
    FOLDER_FORMATS.register(_name)(_mfn_format(_name, _desc))
# any other folder with the MFN layout (detected last: the named releases are matched by name)
FOLDER_FORMATS.register("mfn_h5")(FolderFormat(
    "mfn_h5", "any folder in the MFN HDF5 layout ({text_S_emb,audio_S,video_S,y_S}.h5)",
    mfn.detect, lambda path, *, seed=0, variant=None: read_mfn(path, variant=variant),
    required=mfn.REQUIRED_FILES, builtin=False,
))


def _folder_format(p: Path) -> FolderFormat:
    by_name = FOLDER_FORMATS.get(p.name) if p.name in FOLDER_FORMATS else None
    if by_name is not None and by_name.detect(p):
        return by_name
    for name in sorted(FOLDER_FORMATS, key=lambda n: not FOLDER_FORMATS.get(n).builtin):
        fmt = FOLDER_FORMATS.get(name)
        if fmt.detect(p):
            return fmt
    for name in FOLDER_FORMATS:
        fmt = FOLDER_FORMATS.get(name)
        lacks = [f for f in fmt.required if not (p / f).is_file()]
        if lacks and (len(lacks) < len(fmt.required) or p.name == name):
            raise DataError(f"{p}: looks like a {name} folder but lacks {', '.join(lacks)}")
    readme = " (it has a README: a dataset without a reader module yet)" if any(
        (p / r).is_file() for r in ("README.md", "README.txt", "README")) else ""
    raise DataError(f"{p}: no reader recognises this folder{readme}; known folder formats: "
                    f"{', '.join(FOLDER_FORMATS)}")


def _pickle_format(obj: Any, *, source: str) -> PickleFormat:
    for name in PICKLE_FORMATS:
        fmt = PICKLE_FORMATS.get(name)
        if fmt.detect(obj):
            return fmt
    if isinstance(obj, dict):
        what = f"a dict with keys {', '.join(map(str, list(obj)[:10])) or '(none)'}"
        first = next(((k, v) for k, v in obj.items() if isinstance(v, dict)), None)
        if first is not None:
            what += f"; split {first[0]!r} has keys {', '.join(map(str, list(first[1])[:12]))}"
            if any(m in first[1] for m in ("text", "audio", "vision")):
                raise DataError(
                    f"{source} [{first[0]}]: missing label key: 'regression_labels' (MMSA) "
                    f"or 'labels' (MulT/MultiBench) ({what})"
                )
    else:
        what = type(obj).__name__
    raise DataError(
        f"{source}: unrecognised pickle layout ({what}); expected MMSA (splits with "
        "'regression_labels'), MulT/MultiBench (splits with 'labels') or MMSA-FET "
        "(2-D 'text'/'audio'/'vision')"
    )


def detect_format(path: str | os.PathLike) -> str:
    """Name of the format of ``path``: ``"robustmsa"``, ``"folder:<name>"`` or
    ``"pickle:<name>"`` (a pickle is safely loaded to be inspected).

    Raises:
        DataError: the path does not exist or no format recognises it.
    """
    p = Path(path)
    if p.is_dir():
        return f"folder:{_folder_format(p).name}"
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if p.suffix in OWN_SUFFIXES:
        return "robustmsa"
    return f"pickle:{_pickle_format(safe_load_pickle(p), source=str(p)).name}"


def read_path(
    path: str | os.PathLike, *, seed: int = 0, format: str | None = None, name: str | None = None,
    variant: str | None = None,
) -> MSADataset:
    """Read any supported file or folder, auto-detecting its format.

    Args:
        path: a ``.npz``/``.json`` written by `save_dataset`, a data pickle, or a dataset folder.
        seed: passed to folder readers (e.g. the validation-video choice of ``mosi_bclstm``).
        format: force a pickle format (``"mmsa"``, ``"mult"``, ``"fet"``) instead of detecting.
        name: dataset name for pickles (default: the file stem).
        variant: folder-format variant, e.g. ``"score"`` for ``mosi_bclstm`` (``PATH:score``).

    Raises:
        DataError: unreadable, unsafe, unrecognised or invalid input.
    """
    p = Path(path)
    if p.is_dir():
        return _folder_format(p).read(p, seed=seed, variant=variant)
    if variant is not None:
        raise DataError(f"{p}: variant {variant!r} only applies to dataset folders")
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if p.suffix in OWN_SUFFIXES:
        return load_dataset(p)
    obj = safe_load_pickle(p)
    if format is not None:
        if format not in PICKLE_FORMATS:
            raise DataError(f"unknown pickle format {format!r}; valid: "
                            f"{', '.join(PICKLE_FORMATS)}")
        fmt = PICKLE_FORMATS.get(format)
    else:
        fmt = _pickle_format(obj, source=str(p))
    return fmt.build(obj, source=str(p), name=name or p.stem)
