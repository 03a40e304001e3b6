"""Where the extractor configuration of a dataset is stored, and how to read it back.

A dataset built by ``robustmsa extract`` records its extractors (``MediaPipeline.describe()``,
modality -> description) in two places:

1. the top-level field ``"extractors"`` of the dataset's JSON sidecar (next to ``"info"``);
2. the last line of ``info.notes``: ``robustmsa-extractors: {compact JSON}``, so that the
   configuration travels with the `DatasetInfo` wherever it is copied (e.g. into checkpoints).

`extractor_config` reads it from a `DatasetInfo`, an info dict, a sidecar dict or an object
with an ``extractors``/``extractor_config`` attribute, whichever is given.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from robustmsa.errors import DataError

NOTES_MARKER = "robustmsa-extractors: "
SIDECAR_FIELD = "extractors"


def notes_with_extractors(notes: str, extractors: dict[str, Any]) -> str:
    """``notes`` plus the marker line carrying ``extractors`` as compact JSON."""
    kept = [ln for ln in (notes or "").splitlines() if not ln.startswith(NOTES_MARKER)]
    blob = json.dumps(_compact(extractors), sort_keys=True, separators=(",", ":"))
    return "\n".join([*kept, NOTES_MARKER + blob])


def _compact(extractors: dict[str, Any]) -> dict[str, Any]:
    # column names are long and derivable; keep them out of the notes
    return {m: {k: v for k, v in d.items() if k != "columns"} for m, d in extractors.items()}


def extractors_from_notes(notes: str) -> dict[str, Any] | None:
    """The extractor configuration stored in ``notes`` (None when there is none)."""
    for ln in reversed((notes or "").splitlines()):
        if ln.startswith(NOTES_MARKER):
            try:
                d = json.loads(ln[len(NOTES_MARKER) :])
            except json.JSONDecodeError as e:
                raise DataError(
                    f"malformed extractor configuration in dataset notes ({e})"
                ) from None
            return d if isinstance(d, dict) else None
    return None


def extractor_config(obj: Any) -> dict[str, Any] | None:
    """Extractor configuration of ``obj`` (DatasetInfo, dict, sidecar, predictor), or None."""
    if obj is None:
        return None
    for attr in ("extractors", "extractor_config"):
        v = obj.get(attr) if isinstance(obj, dict) else getattr(obj, attr, None)
        if isinstance(v, dict) and v:
            return v
    if isinstance(obj, dict):
        if isinstance(obj.get("info"), dict):
            return extractor_config(obj["info"])
        return extractors_from_notes(str(obj.get("notes", "")))
    notes = getattr(obj, "notes", None)
    return extractors_from_notes(notes) if isinstance(notes, str) else None


def read_dataset_extractors(path: str | os.PathLike) -> dict[str, Any] | None:
    """Extractor configuration of the dataset at ``path`` (``.npz`` or ``.json``), or None."""
    p = Path(path).with_suffix(".json")
    try:
        meta = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{p}: cannot read the dataset metadata ({e})") from None
    return extractor_config(meta)
