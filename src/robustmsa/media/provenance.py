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


_ATTRS = ("extractors", "extractor_config", "extractor")
_INFO_KEYS = ("info", "dataset_info", "info_")


def _is_config(v: Any) -> bool:
    """A non-empty modality -> extractor-description mapping."""
    return (
        isinstance(v, dict)
        and bool(v)
        and all(isinstance(d, dict) and "name" in d for d in v.values())
    )


def extractor_config(obj: Any) -> dict[str, Any] | None:
    """Extractor configuration carried by ``obj``, or None.

    ``obj`` may be a `DatasetInfo` (read from its notes), an info dict, a dataset sidecar dict,
    a checkpoint dict or a predictor: an ``extractors`` / ``extractor_config`` / ``extractor``
    entry (attribute or key) holding modality -> description wins; otherwise the info's notes.
    """
    if obj is None:
        return None
    get = obj.get if isinstance(obj, dict) else lambda k: getattr(obj, k, None)
    for attr in _ATTRS:
        v = get(attr)
        if _is_config(v):
            return v
        if isinstance(v, dict) and v.get(SIDECAR_FIELD) is not None and v is not obj:
            inner = extractor_config(v)
            if inner:
                return inner
    for key in _INFO_KEYS:
        v = get(key)
        if v is not None and v is not obj:
            inner = extractor_config(v)
            if inner:
                return inner
    notes = get("notes")
    return extractors_from_notes(notes) if isinstance(notes, str) else None


def read_dataset_extractors(path: str | os.PathLike) -> dict[str, Any] | None:
    """Extractor configuration of the dataset at ``path`` (``.npz`` or ``.json``), or None."""
    p = Path(path).with_suffix(".json")
    try:
        meta = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{p}: cannot read the dataset metadata ({e})") from None
    return extractor_config(meta)
