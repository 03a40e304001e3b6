"""Compute cost of a built method on a dataset: parameters, FLOPs, latency, peak memory.

`measure_costs(method, data)` returns one flat dict (the cost-table row of a method):

| key | what |
|---|---|
| ``params_deployed`` | parameters of the deployable network(s) (what ``best.pt`` ships) |
| ``params_trainable`` | every parameter the optimiser updates (deployable + training-only helpers) |
| ``params_frozen`` | frozen parameters used in training (a pre-trained teacher) |
| ``mflops_infer_per_clip`` | forward FLOPs of ``predict`` on complete input, per clip (MFLOPs) |
| ``mflops_train_per_clip`` | FLOPs of one training step (forward + backward of the method's losses), per clip |
| ``ms_per_clip_b1`` / ``ms_per_clip_b128`` | ``predict`` wall time per clip at batch 1 / 128 |
| ``peak_mib_infer_b128`` / ``peak_mib_train_b128`` | peak tensor memory allocated during ``predict`` / one training step at batch 128 |
| ``threads`` | torch intra-op threads used for the timings (set explicitly, restored after) |

FLOPs come from `torch.utils.flop_counter.FlopCounterMode` (2 per multiply-add), with the
Transformer's fused fast path disabled while counting (its fused kernels have no formula)
and a formula for the oneDNN LSTM kernel the CPU build uses (2 * steps * batch *
(4H*in + 4H*H) per direction and layer; backward counted as twice the forward), so every
method is counted with the same rules. Peak memory (`peak_memory_mib`): the largest amount of
tensor memory allocated through torch's CPU allocator during the call, above what was live
before it, from the profiler's memory records (op resolution); activations, gradients and
temporary buffers, not the resident weights (``peak_mem_method`` = ``"torch_profiler"``).
Latency: the minimum over ``repeats`` passes (the least disturbed by other processes on a
shared machine) after one warm-up pass. Training seconds per epoch are not measured here:
they come from the run's ``summary.json``.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from robustmsa.data.dataset import collate_rows
from robustmsa.data.groups import batch_rows
from robustmsa.data.schema import MSADataset, MSASplit
from robustmsa.missing import draw_mask, parse_condition
from robustmsa.types import Batch

COST_KEYS = ("params_deployed", "params_trainable", "params_frozen", "mflops_infer_per_clip",
             "mflops_train_per_clip", "ms_per_clip_b1", "ms_per_clip_b128",
             "peak_mib_infer_b128", "peak_mib_train_b128", "threads")


def _rnn_layer_flops(inp, w_ih, w_hh) -> int:
    steps_x_batch = math.prod(inp) // inp[-1]
    return 2 * steps_x_batch * (w_ih[0] * w_ih[1] + w_hh[0] * w_hh[1])


def _lstm_fwd(inp, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
    return _rnn_layer_flops(inp, w_ih, w_hh)


def _lstm_bwd(inp, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
    return 2 * _rnn_layer_flops(inp, w_ih, w_hh)


def _custom_formulas() -> dict:
    ops = torch.ops.aten
    out = {}
    if hasattr(ops, "mkldnn_rnn_layer"):
        out[ops.mkldnn_rnn_layer] = _lstm_fwd
    if hasattr(ops, "mkldnn_rnn_layer_backward"):
        out[ops.mkldnn_rnn_layer_backward] = _lstm_bwd
    return out


@contextlib.contextmanager
def _counting() -> Iterator[FlopCounterMode]:
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with FlopCounterMode(display=False, custom_mapping=_custom_formulas()) as fc:
            yield fc
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null for the block (restored after): some torch builds'
    profiler prints start/stop lines from C++ straight to it."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def peak_memory_mib(fn) -> float:
    """Peak tensor memory (MiB) allocated through torch's CPU allocator while ``fn()`` runs,
    above what was allocated before it (weights already resident are not counted).

    From the profiler's memory records (``profile_memory=True``): every operator's own
    allocations are placed at its start and its own frees at its end (op resolution; frees are
    never counted early), and the running sum's maximum is the peak. Deterministic for a given
    model and batch (unlike resident-set measures, which depend on the heap's history).
    """
    from torch.profiler import ProfilerActivity, profile

    from robustmsa.media.quiet import quiet_native  # stdlib only; drops the profiler's fd-2 lines

    with _quiet_stdout(), quiet_native(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    points = []
    for e in prof.events():
        used = e.self_cpu_memory_usage
        if used:
            points.append((e.time_range.start if used > 0 else e.time_range.end, -used, used))
    live = peak = 0
    for _, _, used in sorted(points):
        live += used
        peak = max(peak, live)
    return peak / 2**20


def _batch(method, split: MSASplit, size: int) -> tuple[Batch, np.ndarray]:
    """The first batch of ``size`` rows as the evaluator would build it."""
    groups = split.groups if getattr(method, "group_batches", False) else None
    rows = batch_rows(np.arange(len(split)), size, groups)[0]
    return collate_rows(split, rows), rows


def _train_batch(method, split: MSASplit, size: int, condition: str | None, seed: int) -> Batch:
    b, rows = _batch(method, split, size)
    if condition:
        seq = {m: int(b.features[m].shape[1]) for m in b.modalities}
        lens = {m: split.lengths[m][rows] for m in b.modalities}
        b = replace(b, train_mask=draw_mask(parse_condition(condition), list(b.ids), lens, seq,
                                            seed=seed, split="train", salt="epoch=0",
                                            valid={m: v[rows] for m, v in split.frame_valid.items()}))
    return b


def _time_per_clip(fn, batches: list[Batch], repeats: int) -> float:
    """Minimum over ``repeats`` of the wall time of predicting every batch, per clip (ms)."""
    fn(batches[0])  # warm-up
    n = sum(b.size for b in batches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for b in batches:
            fn(b)
        times.append((time.perf_counter() - t0) / n * 1000.0)
    return float(min(times))


def measure_costs(method: torch.nn.Module, data: MSADataset, *, split: str = "test",
                  train_missing: str | None = None, threads: int = 1, repeats: int = 5,
                  n_single: int = 16, seed: int = 0) -> dict:
    """One cost-table row for ``method`` on ``data`` (keys: `COST_KEYS`, plus
    ``peak_mem_method``). Inference is measured on complete input of ``split``, training on
    the first training batch under ``train_missing`` (default: the method's own); the
    method's train/eval mode and the torch thread count are restored afterwards."""
    cond = train_missing if train_missing is not None else getattr(method, "train_missing", None)
    was_training, old_threads = method.training, torch.get_num_threads()
    sp = data[split]
    dep = {id(p) for p in method.deployable().parameters()}
    row: dict = {
        "params_deployed": sum(p.numel() for p in method.deployable().parameters()),
        "params_trainable": sum(p.numel() for p in method.parameters() if p.requires_grad),
        "params_frozen": sum(p.numel() for p in method.parameters()
                             if not p.requires_grad and id(p) not in dep),
    }
    torch.set_num_threads(threads)
    try:
        method.eval()
        big, _ = _batch(method, sp, 128)
        with torch.no_grad(), _counting() as fc:
            method.predict(big)
        row["mflops_infer_per_clip"] = fc.get_total_flops() / big.size / 1e6
        singles = [collate_rows(sp, [i]) for i in range(min(n_single, len(sp)))]
        with torch.no_grad():
            row["ms_per_clip_b1"] = _time_per_clip(method.predict, singles, repeats)
            row["ms_per_clip_b128"] = _time_per_clip(method.predict, [big], repeats)
            row["peak_mib_infer_b128"] = peak_memory_mib(lambda: method.predict(big))
        method.train()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            tb = _train_batch(method, data["train"], 128, cond, seed)
            with _counting() as fc:  # also the warm-up of the memory measurement
                method(tb).loss.backward()
            row["mflops_train_per_clip"] = fc.get_total_flops() / tb.size / 1e6
            method.zero_grad(set_to_none=True)  # gradients are part of the step's memory
            row["peak_mib_train_b128"] = peak_memory_mib(lambda: method(tb).loss.backward())
        method.zero_grad(set_to_none=True)
    finally:
        method.train(was_training)
        torch.set_num_threads(old_threads)
    row["threads"] = threads
    row["peak_mem_method"] = "torch_profiler"
    return {k: row[k] for k in (*COST_KEYS, "peak_mem_method")}


def measure_run_costs(cfg, run_dir: str | Path, data: MSADataset, **kwargs) -> dict:
    """`measure_costs` for a finished run on the *raw* ``data`` (prepared for its checkpoint
    through the one data path): the method is built for training from its config (frozen
    teacher loaded, so the training step can be measured) with the run's deployable weights
    from ``best.pt``."""
    from robustmsa.data.prepare import prepare_for_checkpoint
    from robustmsa.engine.builder import build_method
    from robustmsa.engine.checkpoint import load_checkpoint

    ck = load_checkpoint(Path(run_dir) / "best.pt")
    method = build_method(cfg, data.info)
    method.deployable().load_state_dict(ck["student"])
    kwargs.setdefault("train_missing", cfg.train.missing or None)
    return measure_costs(method, prepare_for_checkpoint(ck, data), **kwargs)


def merge_costs(rows: list[dict], profiles: dict[str, dict]) -> list[dict]:
    """Add the `measure_costs` columns of ``profiles`` (by run name) to the benchmark's
    averaged cost rows (keyed ``"method"``); rows without a profile get None, so every row
    has the same columns."""
    keys = [k for k in COST_KEYS if k not in ("params_deployed",)]
    out = []
    for r in rows:
        p = profiles.get(r["method"], {})
        out.append(dict(r) | {k: p.get(k) for k in keys})
    return out
