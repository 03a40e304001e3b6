"""Where a training epoch's CPU time goes now: ``torch.profiler`` over two teacher epochs on
``synthetic:mosi`` (default model), plus the attention kernels compared on one batch's shape.

The op table says which operators own the time; the attention comparison (forward + backward
of a (128, 10, 50, 4) batch with a padding mask: torch's fused ``scaled_dot_product_attention``,
its math backend, an explicit masked softmax, and a ``baddbmm`` additive-mask variant) says
whether another formulation of the dominant operator would be cheaper.

    .venv/bin/python benchmarks/profile_train.py --threads 2   # -> benchmarks/results/profile_train.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile

from robustmsa.config import DataConfig, load_config
from robustmsa.engine.trainer import Trainer
from robustmsa.fileio import atomic_write

REPO = Path(__file__).resolve().parents[1]


def attention_variants(repeats: int = 5, iters: int = 10) -> dict[str, float]:
    """Minimum ms of forward + backward per variant, interleaved over ``repeats`` rounds."""
    g = torch.Generator().manual_seed(0)
    b, h, t, d = 128, 10, 50, 4
    q, k, v = (torch.randn(b, h, t, d, generator=g, requires_grad=True) for _ in range(3))
    lens = torch.randint(10, t + 1, (b,), generator=g)
    attend = (torch.arange(t)[None, :] < lens[:, None])[:, None, None, :]  # (B, 1, 1, T)

    def sdpa() -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attend)

    def sdpa_math() -> torch.Tensor:
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=attend)

    def softmax() -> torch.Tensor:
        s = (q * d ** -0.5) @ k.transpose(-2, -1)  # (B, H, T, T)
        return s.masked_fill(~attend, float("-inf")).softmax(-1) @ v

    def baddbmm() -> torch.Tensor:
        bias = torch.zeros(attend.shape).masked_fill_(~attend, float("-inf"))  # (B, 1, 1, T)
        s = torch.baddbmm(bias.expand(b, h, t, t).reshape(b * h, t, t),  # (B*H, T, T)
                          (q * d ** -0.5).reshape(b * h, t, d),
                          k.reshape(b * h, t, d).transpose(1, 2))
        return torch.bmm(s.softmax(-1), v.reshape(b * h, t, d)).view(b, h, t, d)

    fns = {"sdpa (fused, used)": sdpa, "sdpa math backend": sdpa_math,
           "explicit masked softmax": softmax, "baddbmm additive mask": baddbmm}
    ref = sdpa().detach()
    for name, f in fns.items():
        err = (f().detach() - ref).abs().max().item()
        if err > 1e-5:
            raise SystemExit(f"{name} differs from sdpa by {err}")
    best = {n: float("inf") for n in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(iters):
                f().sum().backward()
            best[name] = min(best[name], (time.perf_counter() - t0) / iters * 1000)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/profile_train.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    load0 = os.getloadavg()
    data = DataConfig(source="synthetic:mosi").load()
    cfg = load_config(None, ["method=teacher", "data.source=synthetic:mosi", "train.epochs=2",
                             "train.patience=5", "train.progress=false",
                             f"train.threads={a.threads}"])
    with tempfile.TemporaryDirectory() as tmp, profile(activities=[ProfilerActivity.CPU]) as p:
        Trainer(cfg, data, Path(tmp) / "teacher").fit()
    ev = sorted(p.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ev)
    ops = [{"op": e.key, "self_cpu_share": e.self_cpu_time_total / total, "calls": e.count}
           for e in ev[:15]]
    attn = attention_variants()
    result = {"command": f"python benchmarks/profile_train.py --threads {a.threads}",
              "threads": a.threads, "load_before": list(load0), "load_after": list(os.getloadavg()),
              "top_ops_two_teacher_epochs": ops, "attention_fwd_bwd_ms_128x10x50x4": attn}
    atomic_write(Path(a.out), (json.dumps(result, indent=1) + "\n").encode())
    for o in ops:
        print(f"{100 * o['self_cpu_share']:5.1f} %  {o['calls']:6d}  {o['op']}")
    for n, ms in attn.items():
        print(f"{ms:7.2f} ms  {n}")


if __name__ == "__main__":
    main()
