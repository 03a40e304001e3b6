"""Multi-process data-parallel training on torch.distributed (no home-made engine).

Launch any training command with ``torchrun``; the CLI joins the process group that
``torchrun`` describes (it reads ``WORLD_SIZE`` / ``RANK`` / ``MASTER_ADDR`` from the
environment, it never sets them)::

    torchrun --standalone --nproc_per_node 2 -m robustmsa train method=corrkd \\
        teacher=runs/teacher/best.pt --out runs/corrkd_ddp

What the trainer does when a process group is initialised (`robustmsa.engine.trainer`):

* the method is wrapped in ``DistributedDataParallel`` (gradients averaged over processes);
* every global batch of ``train.batch_size`` samples (the same seeded permutation on every
  rank) is split into strided shards ``rows[rank::world]``, so the global batch size, the
  learning-rate semantics and the training masks (seeded by sample id) do not depend on the
  number of processes; a last global batch smaller than the world size is skipped;
* every rank evaluates the whole validation split (identical weights give identical
  decisions, no broadcast needed); only rank 0 writes logs, checkpoints and the summary;
* logged losses are averaged over ranks.

Backends: ``gloo`` on CPU, ``nccl`` on CUDA (`backend_for`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size) of the initialised default process group, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def backend_for(device: torch.device | str) -> str:
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def launched_by_torchrun() -> bool:
    """True when the environment describes a multi-process job (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


@contextmanager
def process_group_from_env(device: torch.device | str = "cpu") -> Iterator[tuple[int, int]]:
    """Join the process group described by torchrun's environment for the duration of a job.

    Does nothing (yields (0, 1)) for a single-process run or when a group already exists.
    """
    if not launched_by_torchrun() or not dist.is_available() or dist.is_initialized():
        yield world()
        return
    dist.init_process_group(backend=backend_for(device))
    try:
        yield world()
    finally:
        dist.destroy_process_group()


def all_finite(x: torch.Tensor) -> bool:
    """Whether ``x`` is finite on every rank (so that all ranks stop together)."""
    ok = torch.tensor(float(torch.isfinite(x).all()), device=x.device)
    if world()[1] > 1:
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok.item() > 0)


def mean_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average scalar logs over ranks (identity for a single process)."""
    if world()[1] == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= world()[1]
    return dict(zip(keys, t.tolist(), strict=True))


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()
