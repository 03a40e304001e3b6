"""Missing-modality masks: the `MissingMask` container, seeding and `apply_missing`.

Determinism contract: the mask of a sample depends only on ``(seed, split, sample id,
condition key)`` — never on batch size, order, shuffling or worker processes. Each sample gets
its own NumPy generator seeded from a stable hash of those four values; samplers that set
``vectorised = True`` (CorrKD's training sampler `MRM`) instead draw all samples at once from
a counter-based generator keyed by the same hash (`counter_uniforms`), which keeps the
contract.

Natural missingness: a mask only ever removes. A modality a sample lacks in the data (length
0) stays absent whatever the condition asks, and frames missing in the data stay missing
(`apply_missing` ANDs with the batch's own masks). When a split carries explicit frame masks
(valid frames not a prefix: `MSASplit.frame_valid`), `draw_mask(..., valid=...)` lets the
samplers draw in *valid-frame order* (the k-th valid frame is position k), so a rate p drops a
fraction p of the real frames and a block is contiguous among them; samplers that drop shared
positions across modalities (``frame:P:shared``, MRM with ``shared_frames``) keep the real time
axis. ``MissingMask.requested`` records, per sample, which modalities the condition asked for,
from which `coverage` computes the fraction of samples that really have all of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from robustmsa.types import MODALITIES, Batch


def stable_hash(*parts: object) -> int:
    """64-bit hash of ``parts`` that is identical across processes and platforms."""
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "little")


def sample_rng(seed: int, split: str, sample_id: str, key: str) -> np.random.Generator:
    """The generator that decides the mask of one sample under one condition."""
    return np.random.default_rng(
        np.random.SeedSequence([int(seed) & 0xFFFFFFFF, stable_hash(split, key, sample_id)])
    )


def sample_key(seed: int, split: str, sample_id: str, key: str) -> int:
    """64-bit key of one sample under one condition, for counter-based (vectorised) samplers."""
    return stable_hash(int(seed) & 0xFFFFFFFF, split, key, sample_id)


_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def counter_uniforms(keys: np.ndarray, n: int, stream: int) -> np.ndarray:
    """(N, n) uniforms on [0, 1): splitmix64 of (sample key, stream, index), 53 bits each.

    Row i depends only on ``keys[i]``: a vectorised sampler built on it keeps the determinism
    contract (a sample's mask depends on its key, not on the batch it is drawn with).
    """
    ctr = np.uint64(stream) * np.uint64(1 << 32) + np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64)[:, None] + ctr[None, :] * _GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


@dataclass(frozen=True)
class MissingMask:
    """Which modalities and frames survive, for a batch (or a whole split).

    Attributes:
        present: (B, M) bool, columns in ``MODALITIES`` order for the modalities of the data.
        keep: modality -> (B, T_m) bool, True where the frame is kept (padding may be True;
            `apply_missing` ANDs it with the valid-frame mask).
        modalities: the modalities the columns of ``present`` refer to.
        requested: optional (B, M) bool, the modalities the condition asked for per sample
            (before natural missingness and all-frames-dropped); None = not recorded.
    """

    present: Tensor
    keep: dict[str, Tensor]
    modalities: tuple[str, ...]
    requested: Tensor | None = None

    def to(self, device: torch.device | str) -> MissingMask:
        return replace(
            self, present=self.present.to(device),
            keep={k: v.to(device) for k, v in self.keep.items()},
            requested=None if self.requested is None else self.requested.to(device),
        )

    def select(self, rows: Tensor) -> MissingMask:
        return replace(self, present=self.present[rows],
                       keep={k: v[rows] for k, v in self.keep.items()},
                       requested=None if self.requested is None else self.requested[rows])

    def __getitem__(self, rows) -> MissingMask:
        rows = torch.as_tensor(rows, dtype=torch.long)
        return self.select(rows)


class RowSampler(Protocol):
    """Draws the mask of one sample. Implemented by every protocol in `protocols`."""

    key: str

    def draw_row(
        self, rng: np.random.Generator, lengths: dict[str, int], seq_lens: dict[str, int]
    ) -> tuple[dict[str, bool], dict[str, np.ndarray]]: ...


def draw_mask(
    sampler: RowSampler,
    ids: list[str] | tuple[str, ...] | np.ndarray,
    lengths: dict[str, np.ndarray],
    seq_lens: dict[str, int],
    *,
    seed: int,
    split: str,
    salt: str = "",
    valid: dict[str, np.ndarray] | None = None,
) -> MissingMask:
    """Draw a `MissingMask` for the given samples, one seeded generator per sample.

    Args:
        sampler: the protocol (see `robustmsa.missing.protocols`).
        ids: sample ids (their identity, not their position, seeds the mask).
        lengths: modality -> (N,) true lengths.
        seq_lens: modality -> padded length T_m of the arrays the mask will be applied to.
        seed: the evaluation (or training) mask seed.
        split: split name, part of the seed.
        salt: extra key material (the trainer passes the epoch); ignored by samplers with
            ``static = True`` (data that is missing, not re-drawn every epoch).
        valid: optional modality -> (N, T_m) bool explicit frame masks (`MSASplit.frame_valid`
            rows of the same samples); modalities without one use the first ``lengths``
            frames. Samplers then draw in valid-frame order (module docstring).
    """
    mods = tuple(m for m in MODALITIES if m in seq_lens)
    n = len(ids)
    valid = {m: np.asarray(v, dtype=bool) for m, v in (valid or {}).items() if m in mods}
    positional = bool(getattr(sampler, "shared", False) or getattr(sampler, "shared_frames", False))
    if getattr(sampler, "uses_rng", True) is False:
        return _draw_fixed(sampler, n, lengths, seq_lens, mods, valid)
    if getattr(sampler, "vectorised", False):
        return _draw_vectorised(sampler, ids, lengths, seq_lens, mods, valid, positional,
                                seed=seed, split=split, salt=salt)
    present = np.zeros((n, len(mods)), dtype=bool)
    requested = np.zeros((n, len(mods)), dtype=bool)
    keep = {m: np.zeros((n, seq_lens[m]), dtype=bool) for m in mods}
    key = sampler.key + (f"|{salt}" if salt and not getattr(sampler, "static", False) else "")
    for i in range(n):
        rng = sample_rng(seed, split, str(ids[i]), key)
        row_len = {m: int(lengths[m][i]) for m in mods}
        pos = {m: np.flatnonzero(valid[m][i]) for m in valid}  # real frames, in order
        draw_len = row_len if positional else {m: len(pos[m]) if m in pos else row_len[m]
                                               for m in mods}
        pres, kp = sampler.draw_row(rng, draw_len, seq_lens)
        for j, m in enumerate(mods):
            requested[i, j] = pres[m]
            present[i, j] = pres[m] and row_len[m] > 0
            if m in pos and not positional:
                # valid-frame order -> real positions: the k-th valid frame takes decision k
                k = np.ones(seq_lens[m], dtype=bool)
                k[pos[m]] = kp[m][: len(pos[m])]
                keep[m][i] = k
            else:
                keep[m][i] = kp[m]
            real = pos[m] if m in pos else np.arange(row_len[m])
            # a modality whose valid frames were all dropped carries nothing: not present
            if present[i, j] and not keep[m][i][real].any():
                present[i, j] = False
    return MissingMask(
        present=torch.from_numpy(present),
        keep={m: torch.from_numpy(v) for m, v in keep.items()},
        modalities=mods,
        requested=torch.from_numpy(requested),
    )


def _real_counts(lengths: dict[str, np.ndarray], valid: dict[str, np.ndarray], m: str,
                 n: int) -> np.ndarray:
    """(N,) number of real frames of modality ``m``: its explicit frame mask, else its length."""
    if m in valid:
        return valid[m][:n].sum(1).astype(np.int64)
    return np.asarray(lengths[m][:n]).astype(np.int64)


def _draw_fixed(sampler: RowSampler, n: int, lengths: dict[str, np.ndarray],
                seq_lens: dict[str, int], mods: tuple[str, ...],
                valid: dict[str, np.ndarray]) -> MissingMask:
    """`draw_mask` for samplers whose row keeps every frame and ignores the generator and the
    lengths (``uses_rng = False``): the same result as the per-sample loop, vectorised."""
    pres, kp = sampler.draw_row(None, {m: seq_lens[m] for m in mods}, seq_lens)
    present = np.zeros((n, len(mods)), dtype=bool)
    requested = np.zeros((n, len(mods)), dtype=bool)
    keep = {}
    for j, m in enumerate(mods):
        row = np.asarray(kp[m], dtype=bool)
        if not row.all():  # not a keep-everything row: the loop's semantics are not this
            raise ValueError(f"sampler {sampler.key!r} sets uses_rng = False but drops frames")
        ln = np.asarray(lengths[m][:n]).astype(np.int64)
        requested[:, j] = bool(pres[m])
        present[:, j] = bool(pres[m]) & (ln > 0) & (_real_counts(lengths, valid, m, n) > 0)
        keep[m] = np.ones((n, seq_lens[m]), dtype=bool)
    return MissingMask(present=torch.from_numpy(present),
                       keep={m: torch.from_numpy(v) for m, v in keep.items()},
                       modalities=mods, requested=torch.from_numpy(requested))


def _draw_vectorised(sampler, ids, lengths: dict[str, np.ndarray], seq_lens: dict[str, int],
                     mods: tuple[str, ...], valid: dict[str, np.ndarray], positional: bool, *,
                     seed: int, split: str, salt: str) -> MissingMask:
    """`draw_mask` for ``vectorised`` samplers (`MRM`): every sample at once from
    `counter_uniforms` keyed by `sample_key`; explicit frame masks as in the loop (decisions in
    valid-frame order unless the sampler drops shared positions)."""
    n = len(ids)
    key = sampler.key + (f"|{salt}" if salt and not getattr(sampler, "static", False) else "")
    keys = np.array([sample_key(seed, split, str(i), key) for i in ids], dtype=np.uint64)
    row_len = {m: np.asarray(lengths[m][:n]).astype(np.int64) for m in mods}
    draw_len = {m: row_len[m] if positional or m not in valid else _real_counts(lengths, valid, m, n)
                for m in mods}
    pres, kp = sampler.draw_batch(keys, draw_len, {m: seq_lens[m] for m in mods})
    requested = np.asarray(pres, dtype=bool).copy()
    present = requested.copy()
    keep = {}
    for j, m in enumerate(mods):
        t = seq_lens[m]
        k = np.asarray(kp[m], dtype=bool)
        if m in valid and not positional:
            # valid-frame order -> real positions: the k-th valid frame takes decision k
            order = np.argsort(~valid[m][:n], axis=1, kind="stable")  # valid positions first
            first = np.arange(t)[None, :] < draw_len[m][:, None]  # (N, T)
            real = np.ones((n, t), dtype=bool)
            rows = np.broadcast_to(np.arange(n)[:, None], (n, t))
            real[rows[first], order[first]] = k[first]
            k = real
        frames = valid[m][:n] if m in valid else np.arange(t)[None, :] < row_len[m][:, None]
        keep[m] = k
        present[:, j] &= (row_len[m] > 0) & (k & frames).any(1)
    return MissingMask(present=torch.from_numpy(present),
                       keep={m: torch.from_numpy(np.ascontiguousarray(v)) for m, v in keep.items()},
                       modalities=mods, requested=torch.from_numpy(requested))


def draw_split_mask(sampler: RowSampler, split, rows: np.ndarray | None = None, *, seed: int,
                    split_name: str, salt: str = "") -> MissingMask:
    """`draw_mask` for rows ``rows`` (default: all) of an `MSASplit`, with its frame masks."""
    idx = np.arange(len(split)) if rows is None else np.asarray(rows)
    mods = split.modalities
    return draw_mask(
        sampler, [str(i) for i in split.ids[idx]], {m: split.lengths[m][idx] for m in mods},
        {m: int(split.features[m].shape[1]) for m in mods}, seed=seed, split=split_name,
        salt=salt, valid={m: v[idx] for m, v in split.frame_valid.items()},
    )


def coverage(natural_present: Tensor | np.ndarray, mask: MissingMask | None) -> float:
    """Fraction of samples that actually have every modality the condition asked for.

    ``natural_present`` (N, M) bool is what the data has (length > 0); with ``mask`` None (the
    ``complete`` condition) every modality of the data is asked for. A sample counts when each
    requested modality is naturally present and still has at least one kept frame.
    """
    nat = torch.as_tensor(np.asarray(natural_present), dtype=torch.bool)
    if nat.shape[0] == 0:
        return float("nan")
    if mask is None:
        return float(nat.all(1).float().mean())
    req = mask.requested if mask.requested is not None else torch.ones_like(nat)
    got = nat & mask.present
    return float((got | ~req).all(1).float().mean())


def apply_missing(batch: Batch, mask: MissingMask | None) -> Batch:
    """Return a new batch with missing modalities / frames zeroed; the input is unchanged.

    Missing entries are exactly zero at the raw-feature level, and are also reported in
    ``present`` (modality level) and ``frame_mask`` (frame level).
    """
    if mask is None:
        return batch
    mods = batch.modalities
    if tuple(mask.modalities) != tuple(mods):
        raise ValueError(f"mask modalities {mask.modalities} != batch modalities {mods}")
    present = batch.present & mask.present
    feats, fmask = {}, {}
    for j, m in enumerate(mods):
        keep = mask.keep[m]
        if keep.shape != batch.frame_mask[m].shape:
            raise ValueError(
                f"mask for {m!r} has shape {tuple(keep.shape)}, batch frames "
                f"{tuple(batch.frame_mask[m].shape)}"
            )
        if bool(present[:, j].all()) and bool(keep.all()):
            # nothing removed: the same tensors (lets evaluation reuse their encodings)
            feats[m], fmask[m] = batch.features[m], batch.frame_mask[m]
            continue
        fm = batch.frame_mask[m] & keep & present[:, j : j + 1]  # (B, T)
        feats[m] = batch.features[m] * fm[..., None].to(batch.features[m].dtype)
        fmask[m] = fm
    return replace(batch, features=feats, frame_mask=fmask, present=present, train_mask=None)
