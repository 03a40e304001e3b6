"""Sample groups: which video / dialogue each utterance belongs to.

Conversation-level methods (GCNet builds graphs over the utterances of one video) and grouped
cross-validation (folds by video) need the grouping. Readers fill ``MSASplit.groups`` when the
source defines it (CMU-MOSI ids are ``{video}_{clip}``; MMSA pickles use ``{video}$_${clip}``);
`require_groups` gives the one clear error for a dataset without one.

Methods that declare ``group_batches = True`` get batches made of whole groups from the
trainer and the evaluator (`batch_rows`); `utterance_order` gives the temporal order of the
utterances of a video from their ids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def _natural_key(text: str) -> tuple:
    """Sort key that orders ``"2" < "10"`` (digit runs compared as numbers)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p)


def utterance_order(ids: Sequence[str], groups: Sequence[str]) -> np.ndarray:
    """Position of every sample inside its group, by the natural order of the clip part of its
    id (``video_2`` before ``video_10``; the id itself when it does not start with the group).

    Shapes: ids, groups: (N,) -> (N,) int64 rank within the group (0 = first utterance).
    """
    ids = [str(i) for i in ids]
    groups = [str(g) for g in groups]
    keys = []
    for i, g in zip(ids, groups, strict=True):
        rest = i[len(g):] if i.startswith(g) else i
        keys.append((g, _natural_key(rest), i))
    order = sorted(range(len(ids)), key=lambda k: keys[k])
    pos = np.zeros(len(ids), dtype=np.int64)
    seen: dict[str, int] = {}
    for k in order:
        g = groups[k]
        pos[k] = seen.get(g, 0)
        seen[g] = pos[k] + 1
    return pos


def batch_rows(order: np.ndarray, batch_size: int, groups: np.ndarray | None = None
               ) -> list[np.ndarray]:
    """Cut the row sequence ``order`` into batches.

    Without ``groups``: consecutive chunks of ``batch_size`` rows (the trainer's default).
    With ``groups`` ((N,) group of every row of the split): whole groups, taken in the order of
    their first row in ``order``, packed greedily while the batch holds at most ``batch_size``
    rows (a group larger than ``batch_size`` is a batch of its own); rows of a group in
    ascending row order. Every row appears exactly once either way.
    """
    order = np.asarray(order, dtype=np.int64)
    if groups is None:
        return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    members: dict[str, list[int]] = {}
    for r in order.tolist():
        members.setdefault(str(groups[r]), []).append(r)
    out: list[np.ndarray] = []
    cur: list[int] = []
    for rows in members.values():
        if cur and len(cur) + len(rows) > batch_size:
            out.append(np.asarray(cur, dtype=np.int64))
            cur = []
        cur += sorted(rows)
    if cur:
        out.append(np.asarray(cur, dtype=np.int64))
    return out


def shard_rows(rows: np.ndarray, rank: int, n_ranks: int, groups: np.ndarray | None = None
               ) -> np.ndarray:
    """The part of a global batch that one data-parallel rank trains on: every ``n_ranks``-th
    row, or (with ``groups``) every ``n_ranks``-th whole group of the batch."""
    if groups is None:
        return rows[rank::n_ranks]
    names = list(dict.fromkeys(str(groups[r]) for r in rows))
    mine = set(names[rank::n_ranks])
    return np.asarray([r for r in rows if str(groups[r]) in mine], dtype=np.int64)
