"""The one trainer every method uses.

Adam, gradient clipping, early stopping and best-checkpoint selection on the **validation**
split only, a progress bar, a JSONL log of every named loss, the resolved config and versions
in the run directory, ``best.pt`` (deployable) / ``last.pt`` (resumable) checkpoints.

Randomness: initialisation, dropout and in-loss sampling use torch's RNG inside
``torch.random.fork_rng`` seeded from ``cfg.seed`` (the caller's global state is restored
afterwards); shuffling and training masks are derived from ``(seed, epoch, sample id)``. A run
resumed from ``last.pt`` therefore reproduces an uninterrupted run exactly.

Multi-process data parallelism (torch.distributed, launched with ``torchrun``) is described in
`robustmsa.engine.distributed`; without a process group nothing changes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from robustmsa import __version__
from robustmsa.config import ExperimentConfig, to_dict
from robustmsa.data.dataset import collate_rows
from robustmsa.data.natural import check_trainable, conditions_for
from robustmsa.data.schema import MSADataset
from robustmsa.engine import distributed as ddp
from robustmsa.engine.builder import build_method
from robustmsa.engine.checkpoint import load_checkpoint, save_checkpoint
from robustmsa.errors import CheckpointError
from robustmsa.evaluation.evaluator import MaskCache, evaluate_conditions
from robustmsa.fileio import atomic_write
from robustmsa.methods import Method
from robustmsa.missing import draw_mask, parse_condition

logger = logging.getLogger(__name__)
LOWER_IS_BETTER = {"MAE"}


@dataclass
class FitResult:
    """Summary of a finished run."""

    run_dir: Path
    best_epoch: int
    best_score: float
    epochs_run: int
    seconds_per_epoch: float
    num_parameters: int
    num_deployable_parameters: int


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _env_info() -> dict:
    import sklearn

    return {
        "robustmsa": __version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
    }


def _write_text_atomic(path: Path, text: str) -> None:
    atomic_write(path, text.encode())


class Trainer:
    """Fits one method on one dataset according to an `ExperimentConfig`.

    Args:
        cfg: the resolved experiment config.
        data: the dataset (train / valid splits used; test is never looked at).
        run_dir: output directory.
        extractor: raw-media extractor config stored in checkpoints; by default the one the
            dataset carries (datasets built by ``robustmsa extract``), else none.
    """

    def __init__(self, cfg: ExperimentConfig, data: MSADataset, run_dir: str | Path,
                 extractor: dict | None = None) -> None:
        self.cfg = cfg
        self.data = data
        self.run_dir = Path(run_dir)
        if extractor is None:
            from robustmsa.media.provenance import extractor_config  # no media deps imported

            extractor = extractor_config(data.info)
        self.extractor = extractor
        self.device = resolve_device(cfg.train.device)

    # -- helpers ------------------------------------------------------------------------
    def _select_conditions(self, method: Method) -> tuple[str, ...]:
        conds = tuple(self.cfg.train.select_conditions) or method.select_conditions
        return conditions_for(conds, self.data.info.modalities)  # none the data cannot have

    def _select_score(self, records: list[dict]) -> float:
        metric = self.cfg.train.select_metric
        vals = [r["value"] for r in records if r["metric"] == metric]
        if not vals:
            raise ValueError(f"train.select_metric {metric!r} is not produced by this task")
        score = float(np.mean(vals))
        return -score if metric in LOWER_IS_BETTER else score

    def _payload(self, method: Method, kind: str, epoch: int, best: float) -> dict:
        return {
            "kind": kind,
            "method": self.cfg.method,
            "config": to_dict(self.cfg),
            "dataset_info": self.data.info.to_dict(),
            "task": method.task.to_dict(),
            "student": {k: v.cpu() for k, v in method.deployable_state_dict().items()},
            "method_state": {k: v.cpu() for k, v in method.training_state_dict().items()},
            "epoch": epoch,
            "best_score": best,
            "extractor": self.extractor or {},
            "normalization": {m: {"mean": torch.from_numpy(mu), "std": torch.from_numpy(sd)}
                              for m, (mu, sd) in getattr(self.data, "norm_stats", {}).items()},
        }

    def _train_mask(self, sampler, batch, epoch: int):
        split = self.data["train"]
        rows = batch.index.numpy()
        lengths = {m: split.lengths[m][rows] for m in batch.modalities}
        seq = {m: int(batch.features[m].shape[1]) for m in batch.modalities}
        return draw_mask(sampler, list(batch.ids), lengths, seq, seed=self.cfg.seed,
                         split="train", salt=f"epoch={epoch}",
                         valid={m: v[rows] for m, v in split.frame_valid.items()})

    # -- main loop ----------------------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        rank, _ = ddp.world()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed + rank)  # per-rank dropout; DDP syncs the init
            return self._fit(resume)

    def _fit(self, resume: bool) -> FitResult:
        cfg, tc = self.cfg, self.cfg.train
        rank, n_ranks = ddp.world()
        main = rank == 0
        self.run_dir.mkdir(parents=True, exist_ok=True)
        method = build_method(cfg, self.data.info).to(self.device)
        check_trainable(method, self.data["train"], dataset=self.data.info.name)
        params = [p for _, p in method.trainable_parameters()]
        opt = torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay)
        start, best, best_epoch, bad, times = 0, -math.inf, -1, 0, []
        log_path = self.run_dir / "metrics.jsonl"
        last = self.run_dir / "last.pt"
        if resume:
            if not last.exists():
                raise CheckpointError(f"{last}: nothing to resume from")
            ck = load_checkpoint(last)
            if ck["config"] != to_dict(cfg):
                raise CheckpointError(f"{last}: was written with a different config")
            r = ck["resume"]
            method.load_state_dict(r["method"])
            opt.load_state_dict(r["optimizer"])
            torch.set_rng_state(r["torch_rng"])
            start, best, best_epoch, bad = ck["epoch"] + 1, ck["best_score"], r["best_epoch"], r["bad"]
            times = list(r["times"])
            logger.info("resuming %s at epoch %d", self.run_dir, start)
        elif main:
            log_path.write_text("")
        if main:
            _write_text_atomic(self.run_dir / "config.yaml",
                               yaml.safe_dump(to_dict(cfg), sort_keys=False))
            _write_text_atomic(self.run_dir / "env.json",
                               json.dumps(_env_info() | {"world_size": n_ranks}, indent=2))
        net = method
        if n_ranks > 1:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(
                method, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True)
        cond = tc.missing or method.train_missing
        sampler = parse_condition(cond) if cond else None
        train, valid = self.data["train"], self.data["valid"]
        cache = MaskCache()
        conditions = self._select_conditions(method)
        step = start * math.ceil(len(train) / tc.batch_size)
        with (log_path.open("a") if main else open(os.devnull, "w")) as log:
            for epoch in range(start, tc.epochs):
                t0 = time.perf_counter()
                method.train()
                order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))
                sums: dict[str, float] = {}
                nb = 0
                bar = tqdm(range(0, len(train), tc.batch_size), disable=not (tc.progress and main),
                           desc=f"{cfg.name or cfg.method} ep {epoch}", leave=False, file=sys.stderr)
                for s in bar:
                    rows = order[s : s + tc.batch_size]
                    if n_ranks > 1:
                        if len(rows) < n_ranks:
                            continue  # every rank needs a non-empty shard
                        rows = rows[rank::n_ranks]
                    batch = collate_rows(train, rows)
                    if sampler is not None:
                        batch = replace(batch, train_mask=self._train_mask(sampler, batch, epoch))
                    batch = batch.to(self.device)
                    out = net(batch)
                    if not ddp.all_finite(out.loss.detach()):
                        raise FloatingPointError(
                            f"{cfg.method}: non-finite loss at epoch {epoch} step {step}: "
                            + ", ".join(f"{k}={float(v):.4g}" for k, v in out.losses.items())
                        )
                    opt.zero_grad(set_to_none=True)
                    out.loss.backward()
                    if tc.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
                    opt.step()
                    vals = {"loss": float(out.loss.detach())} | {k: float(v.detach()) for k, v in out.losses.items()}
                    vals = ddp.mean_over_ranks(vals, self.device)
                    for k, v in vals.items():
                        sums[k] = sums.get(k, 0.0) + v
                    nb += 1
                    step += 1
                    if step % tc.log_every == 0:
                        log.write(json.dumps({"type": "step", "epoch": epoch, "step": step} | vals) + "\n")
                    bar.set_postfix(loss=f"{vals['loss']:.3f}")
                train_time = time.perf_counter() - t0
                times.append(train_time)
                recs = evaluate_conditions(method, valid, split_name="valid", conditions=conditions,
                                           mask_seeds=[tc.valid_mask_seed], cache=cache,
                                           device=self.device)
                score = self._select_score(recs)
                improved = score > best
                if improved:
                    best, best_epoch, bad = score, epoch, 0
                    if main:
                        save_checkpoint(self._payload(method, "best", epoch, best),
                                        self.run_dir / "best.pt")
                else:
                    bad += 1
                log.write(json.dumps({
                    "type": "epoch", "epoch": epoch, "train": {k: v / max(nb, 1) for k, v in sums.items()},
                    "valid": {f"{r['condition']}/{r['metric']}": r["value"] for r in recs},
                    "select_score": score, "best_epoch": best_epoch, "train_seconds": train_time,
                }) + "\n")
                log.flush()
                payload = self._payload(method, "last", epoch, best)
                payload["resume"] = {
                    "method": {k: v.cpu() for k, v in method.state_dict().items()},
                    "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                    "best_epoch": best_epoch, "bad": bad, "times": times,
                }
                if main:
                    save_checkpoint(payload, last)
                (logger.info if main else logger.debug)("%s epoch %d: select=%.4f best=%.4f (epoch %d) %.1fs", cfg.name or cfg.method,
                            epoch, score, best, best_epoch, train_time)
                if bad >= tc.patience:
                    logger.info("early stopping after %d epochs without improvement", bad)
                    break
        n_all = sum(p.numel() for p in method.parameters())
        n_dep = sum(p.numel() for p in method.deployable().parameters())
        res = FitResult(self.run_dir, best_epoch, best, len(times),
                        float(np.mean(times)) if times else 0.0, n_all, n_dep)
        summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in res.__dict__.items()}
        if main:
            _write_text_atomic(self.run_dir / "summary.json", json.dumps(summary, indent=2))
        ddp.barrier()  # no rank returns before rank 0 has written everything
        return res


def train(cfg: ExperimentConfig, run_dir: str | Path, *, data: MSADataset | None = None,
          resume: bool = False) -> FitResult:
    """Public entry point: load ``cfg.data`` (unless given) and fit ``cfg.method``."""
    if data is None:
        data = cfg.data.load()
    return Trainer(cfg, data, run_dir).fit(resume=resume)
