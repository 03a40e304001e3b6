"""Per-clip result cache of ``robustmsa extract`` (makes long extractions resumable).

The work directory (default ``OUT.parts/``) holds:

* ``extractors.json`` — the pipeline description the parts were made with; a later run with a
  different configuration refuses to mix them (`check_work_dir`);
* ``{clip}.npz`` — one file per extracted clip, written atomically: per modality ``{m}`` (T, D)
  float32 (``(0, D)`` when missing) and ``{m}_mask`` (T,) bool, plus ``meta``, a JSON string
  with presence, missing reasons and stats;
* ``failures.jsonl`` — one JSON line per clip that failed in the latest run.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from robustmsa.errors import DataError
from robustmsa.fileio import atomic_write
from robustmsa.media.pipeline import ClipFeatures

CONFIG_FILE = "extractors.json"
FAILURES_FILE = "failures.jsonl"


def part_name(clip_id: str) -> str:
    """File name of a clip's part: the id made filesystem-safe (+ a hash if it had to change)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", clip_id)
    if safe != clip_id or safe.startswith("."):
        safe = f"{safe}-{hashlib.sha1(clip_id.encode()).hexdigest()[:8]}"
    return f"{safe}.npz"


def _stable(desc: dict[str, Any]) -> str:
    return json.dumps(
        {m: {k: v for k, v in d.items() if k != "columns"} for m, d in desc.items()},
        sort_keys=True,
    )


def check_work_dir(work: Path, description: dict[str, Any]) -> None:
    """Create ``work`` or check that its parts were made with the same extractors.

    Raises:
        DataError: the work directory holds parts of a different extractor configuration.
    """
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / CONFIG_FILE
    if cfg.exists():
        try:
            old = json.loads(cfg.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(f"{cfg}: unreadable ({e}); delete the work directory") from None
        if _stable(old) != _stable(description):
            raise DataError(
                f"{work}: cached parts were made with other extractor settings ({cfg.name}); "
                f"delete the directory or pass another --work-dir"
            )
    else:
        atomic_write(cfg, json.dumps(description, indent=2).encode())


def save_part(path: Path, clip: ClipFeatures) -> None:
    """Write one clip's features atomically."""
    arrays: dict[str, np.ndarray] = {}
    for m, r in clip.modalities.items():
        arrays[m] = np.ascontiguousarray(r.features, dtype=np.float32)
        mask = r.frame_mask if r.frame_mask is not None else np.ones(r.length, dtype=bool)
        arrays[f"{m}_mask"] = np.asarray(mask, dtype=bool)
    arrays["meta"] = np.array(json.dumps(clip.summary()))
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def load_part(
    path: Path, modalities: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Features (modality -> (T, D)) and meta of a cached part.

    Raises:
        DataError: the file is unreadable or lacks a modality.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            feats = {m: z[m] for m in modalities}
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: unreadable cached part ({e})") from None
    return feats, meta
