"""Sample groups: which video / dialogue each utterance belongs to.

Conversation-level methods (GCNet builds graphs over the utterances of one video) and grouped
cross-validation (folds by video) need the grouping. Readers fill ``MSASplit.groups`` when the
source defines it (CMU-MOSI ids are ``{video}_{clip}``; MMSA pickles use ``{video}$_${clip}``);
`require_groups` gives the one clear error for a dataset without one.
"""

from __future__ import annotations

import numpy as np

from robustmsa.data.schema import MSASplit
from robustmsa.errors import DataError


def groups_from_ids(ids: np.ndarray) -> np.ndarray:
    """Video id of each ``{video}_{clip}`` / ``{video}$_${clip}`` sample id.

    The clip part is what follows the last separator; an id without one is its own group.
    """
    out = []
    for s in np.asarray(ids).astype(str):
        if "$_$" in s:
            out.append(s.rsplit("$_$", 1)[0])
        elif "_" in s:
            out.append(s.rsplit("_", 1)[0])
        else:
            out.append(s)
    return np.asarray(out).astype(str)


def require_groups(split: MSASplit, *, who: str, split_name: str, dataset: str) -> np.ndarray:
    """``split.groups``, or a `DataError` naming the dataset when it has no grouping."""
    if split.groups is None:
        raise DataError(
            f"{who} needs utterances grouped by video, but dataset {dataset!r} [{split_name}] "
            "has no grouping (MSASplit.groups is None); use a source with video ids "
            "(e.g. mosi_bclstm, MMSA pickles)"
        )
    return np.asarray(split.groups).astype(str)
