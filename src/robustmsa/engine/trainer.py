"""The one trainer every method uses.

Adam, gradient clipping, early stopping and best-checkpoint selection on the **validation**
split only, a progress bar, a JSONL log of every named loss, the resolved config and versions
in the run directory, ``best.pt`` (deployable) / ``last.pt`` (resumable) checkpoints.

Randomness: initialisation, dropout and in-loss sampling use torch's RNG inside
``torch.random.fork_rng`` seeded from ``cfg.seed`` (the caller's global state is restored
afterwards); shuffling and training masks are derived from ``(seed, epoch, sample id)``. A run
resumed from ``last.pt`` therefore reproduces an uninterrupted run exactly.

Data: the trainer receives the **raw** dataset, fits the standardisation statistics on its
training split (``data.standardize``), stores them in every checkpoint (``normalization``) and
prepares train / valid through `robustmsa.data.prepare.prepare_for_checkpoint` — the function
every evaluation and prediction path uses — so validation sees what evaluation sees.

Run directories (`robustmsa.engine.rundir`): a fresh run refuses a non-empty directory unless
``overwrite``; the directory is locked while training; ``metrics.jsonl`` is only ever appended
to; ``last.pt`` is written before ``best.pt`` and records the log's length, so a run killed at
any point resumes to exactly the uninterrupted result and log. File-system failures are one
`OutputError` naming the file.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from robustmsa import __version__
from robustmsa.config import ExperimentConfig, to_dict
from robustmsa.data.cv import cv_spec, fold_for
from robustmsa.data.dataset import collate_rows
from robustmsa.data.groups import batch_rows, require_groups, shard_rows
from robustmsa.data.natural import check_trainable, conditions_for
from robustmsa.data.prepare import norm_stats_of, norm_stats_payload, prepare_with_train_stats
from robustmsa.data.schema import MSADataset
from robustmsa.engine import distributed as ddp
from robustmsa.engine import rundir
from robustmsa.engine.builder import build_method
from robustmsa.engine.checkpoint import load_checkpoint, save_checkpoint
from robustmsa.engine.diagnostics import BalanceTracker
from robustmsa.engine.selection import LOWER_IS_BETTER, Selection
from robustmsa.errors import (
    CheckpointError,
    ConfigError,
    NonFiniteLossError,
    OutputError,
    RunDirError,
    os_error_text,
)
from robustmsa.evaluation.evaluator import MaskCache, evaluate_conditions
from robustmsa.fileio import append_line, atomic_write
from robustmsa.methods import Method
from robustmsa.missing import draw_mask, parse_condition

logger = logging.getLogger(__name__)
__all__ = ["LOWER_IS_BETTER", "FitResult", "Trainer", "train"]


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
    """``train.device`` as a torch device that exists here.

    Raises:
        ConfigError: not a device name, or CUDA / that GPU / MPS is not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"train.device {name!r} is not a device; use cpu, auto, cuda or "
                          "cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no GPU is visible"
            raise ConfigError(f"train.device={name}: CUDA is not available (torch "
                              f"{torch.__version__}: {build}); use train.device=cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"train.device={name}: only {torch.cuda.device_count()} CUDA "
                              "device(s) are visible")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError(f"train.device={name}: MPS is not available here")
    elif dev.type != "cpu":
        raise ConfigError(f"train.device {name!r}: use cpu, auto, cuda or cuda:N")
    return dev


def metric_names(task) -> set[str]:
    """Names of the validation metrics ``task`` produces (to check ``train.select_metric``
    before training)."""
    import warnings

    k = task.num_outputs if task.is_classification else 0
    n = max(6, 2 * k)
    labels = np.arange(n) % k if task.kind == "native" else np.linspace(-2.0, 2.0, n)
    score = np.linspace(-1.0, 1.0, n)
    if task.kind == "multi_regression":  # (n, K) targets
        labels = np.repeat(labels[:, None], task.num_outputs, axis=1)
        score = np.repeat(score[:, None], task.num_outputs, axis=1)
    probs = np.full((n, k), 1.0 / k) if k else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return set(task.metrics(score, probs, labels))


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


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (0 = unchanged), restoring the setting afterwards."""
    prev = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def _write_text_atomic(path: Path, text: str) -> None:
    atomic_write(path, text.encode())


class Trainer:
    """Fits one method on one dataset according to an `ExperimentConfig`.

    Args:
        cfg: the resolved experiment config.
        data: the **raw** dataset (train / valid splits used; test is never looked at); it is
            standardised here with its training split when ``cfg.data.standardize``. With
            ``data.cv_folds`` set, uncarved data is carved to that fold here (data that already
            is the fold, as `DataConfig.load` returns it, is used as given).
        run_dir: output directory.
        extractor: raw-media extractor config stored in checkpoints; by default the one the
            dataset carries (datasets built by ``robustmsa extract``), else none.
    """

    def __init__(self, cfg: ExperimentConfig, data: MSADataset, run_dir: str | Path,
                 extractor: dict | None = None) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        raw = getattr(data, "raw_", None) or data
        if getattr(data, "prepared_for_", None) is not None or \
                getattr(raw, "norm_stats", None) is not None:
            raise ConfigError(
                "the trainer needs the raw dataset (load_data / DataConfig.load), not one "
                "prepared for a checkpoint: it standardises with its own training split"
            )
        # the config's CV fold (a no-op for data already carved so, e.g. DataConfig.load())
        raw = fold_for(raw, cv_spec(cfg.data), who=f"{self.run_dir} (data.cv_folds)")
        self.raw_data = raw
        self.data, self.norm_stats = prepare_with_train_stats(
            raw, standardize=cfg.data.standardize, splits=("train", "valid"),
            source=str(self.run_dir))
        if extractor is None:
            from robustmsa.media.provenance import extractor_config  # no media deps imported

            extractor = extractor_config(data.info)
        self.extractor = extractor
        self.device = resolve_device(cfg.train.device)

    # -- helpers ------------------------------------------------------------------------
    def _select_conditions(self, method: Method) -> tuple[str, ...]:
        conds = tuple(self.cfg.train.select_conditions) or method.select_conditions
        return conditions_for(conds, self.data.info.modalities)  # none the data cannot have

    def _selection(self, method: Method) -> Selection:
        """Selection rule (`robustmsa.engine.selection`): metric, direction, min_delta."""
        tc = self.cfg.train
        return Selection(tc.select_metric, self._select_conditions(method), tc.min_delta)

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
            "normalization": norm_stats_payload(self.norm_stats),
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
    def fit(self, resume: bool = False, overwrite: bool = False) -> FitResult:
        """Train (or continue with ``resume``) into the run directory.

        Raises:
            RunDirError: the directory holds another run (and neither ``resume`` nor
                ``overwrite``), is locked by another ``train``, or ``resume`` does not fit it.
            OutputError: a file of the run cannot be written (names the file).
        """
        rank, _ = ddp.world()
        rundir.check_run_dir(self.run_dir, resume=resume, overwrite=overwrite)
        ddp.barrier()  # every rank has checked before rank 0 writes anything
        lock = rundir.RunLock(self.run_dir)
        if rank == 0:
            rundir.make_run_dir(self.run_dir)
            lock.acquire()
        try:
            if rank == 0 and overwrite:
                rundir.clear_run_files(self.run_dir)
            with torch.random.fork_rng(devices=[]), torch_threads(self.cfg.train.threads):
                torch.manual_seed(self.cfg.seed + rank)  # per-rank dropout; DDP syncs the init
                return self._fit(resume)
        finally:
            lock.release()

    def _check_select_metric(self, method: Method) -> None:
        names = metric_names(method.task)
        if self.cfg.train.select_metric not in names:
            raise ConfigError(
                f"train.select_metric {self.cfg.train.select_metric!r} is not a validation metric "
                f"of task {method.task.kind!r}; valid: {', '.join(sorted(names))}"
            )

    def _resume_state(self, method: Method, opt, last: Path) -> tuple:
        """Load ``last.pt`` into ``method`` / ``opt``; check the config and data still fit."""
        ck = load_checkpoint(last)
        if "resume" not in ck:
            raise CheckpointError(f"{last}: has no resume state (not written as last.pt)")
        rundir.check_resume_config(last, ck["config"], to_dict(self.cfg),
                                   to_dict(ExperimentConfig()))
        stored = norm_stats_of(ck, str(last))
        same = stored.keys() == self.norm_stats.keys() and all(
            np.array_equal(stored[m][0], self.norm_stats[m][0])
            and np.array_equal(stored[m][1], self.norm_stats[m][1]) for m in stored)
        if not same or ck["dataset_info"].get("dims") != self.data.info.dims:
            raise RunDirError(f"{last}: the training data differ from the run's (feature "
                              "widths or training-split statistics); resume needs the same data")
        r = ck["resume"]
        self._balance_state = r.get("balance")  # loss-balance history (diagnostics)
        try:
            method.load_state_dict(r["method"])
            opt.load_state_dict(r["optimizer"])
            torch.set_rng_state(r["torch_rng"])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{last}: resume state does not fit this method "
                                  f"({' '.join(str(e).split())[:200]})") from None
        state = (ck["epoch"] + 1, ck["best_score"], r["best_epoch"], r["bad"], list(r["times"]))
        best_path = self.run_dir / "best.pt"
        if r["best_epoch"] == ck["epoch"]:
            # last.pt is written before best.pt: a run stopped between the two resumes here
            ok = best_path.is_file() and load_checkpoint(best_path).get("epoch") == ck["epoch"]
            if not ok:
                logger.info("%s: rewriting best.pt of epoch %d from last.pt", self.run_dir,
                            ck["epoch"])
                best = {k: v for k, v in ck.items() if k != "resume" and not
                        k.startswith(("format", "robustmsa_version", "torch_version"))}
                best["kind"] = "best"
                best["config"] = to_dict(self.cfg)
                save_checkpoint(best, best_path)
        self._trim_log(r.get("log_offset"))
        return state

    def _trim_log(self, offset: int | None) -> None:
        """Move what the log holds past ``offset`` (records of the epoch that was interrupted,
        redone now) to ``metrics.interrupted.jsonl``, so the log equals an uninterrupted run's."""
        log_path = self.run_dir / "metrics.jsonl"
        if offset is None or not log_path.is_file():
            return
        size = log_path.stat().st_size
        if size < offset:
            logger.warning("%s is shorter than when last.pt was written; appending", log_path)
            return
        if size == offset:
            return
        with log_path.open("rb") as fh:
            fh.seek(offset)
            tail = fh.read()
        side = self.run_dir / "metrics.interrupted.jsonl"
        try:
            with side.open("ab") as fh:
                fh.write(tail if tail.endswith(b"\n") else tail + b"\n")
            os.truncate(log_path, offset)
        except OSError as e:
            raise OutputError(f"{log_path}: cannot trim the interrupted epoch's records "
                              f"({os_error_text(e)})") from None
        logger.info("moved %d bytes of the interrupted epoch's log records to %s", len(tail),
                    side.name)

    def _fit(self, resume: bool) -> FitResult:
        cfg, tc = self.cfg, self.cfg.train
        rank, n_ranks = ddp.world()
        main = rank == 0
        method = build_method(cfg, self.data.info).to(self.device)
        self._check_select_metric(method)
        check_trainable(method, self.data["train"], dataset=self.data.info.name)
        params = [p for _, p in method.trainable_parameters()]
        # fused: one kernel for all parameters (same update; several-fold cheaper on CPU)
        opt = torch.optim.Adam(params, lr=tc.lr, weight_decay=tc.weight_decay,
                               fused=self.device.type in ("cpu", "cuda") or None)
        sel = self._selection(method)
        start, best, best_epoch, bad, times = 0, sel.initial(), -1, 0, []
        cond = tc.missing or method.train_missing
        sampler = parse_condition(cond) if cond else None
        train, valid = self.data["train"], self.data["valid"]
        groups = require_groups(train, who=f"method {cfg.method!r}", split_name="train",
                                dataset=self.data.info.name) if method.group_batches else None
        balance = BalanceTracker(tc.loss_balance and main, train, sampler,
                                 seed=cfg.seed, batch_size=tc.batch_size,
                                 grad_clip=tc.grad_clip, device=self.device, groups=groups)
        log_path = self.run_dir / "metrics.jsonl"
        last = self.run_dir / "last.pt"
        if resume:
            start, best, best_epoch, bad, times = self._resume_state(method, opt, last)
            balance.load(getattr(self, "_balance_state", None))
            logger.info("resuming %s at epoch %d", self.run_dir, start)
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
        cache = MaskCache()
        conditions = sel.conditions
        step = start * math.ceil(len(train) / tc.batch_size)
        if bad >= tc.patience:
            logger.info("%s: the run had already stopped early (%d epochs without improvement)",
                        self.run_dir, bad)
        with _AppendLog(log_path, active=main) as log:
            if start == 0 and (b0 := balance.record_start(method)) is not None:
                log.write({"type": "balance", "epoch": -1, "when": "start",
                           "balance": b0["terms"], "balance_total": b0["total"]})
            for epoch in range(start, tc.epochs if bad < tc.patience else start):
                t0 = time.perf_counter()
                if epoch == start and hasattr(method, "cache_teacher"):
                    method.cache_teacher(train, self.device)  # frozen teacher: outputs once
                method.train()
                order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))
                sums: dict[str, float] = {}
                nb = 0
                bar = tqdm(batch_rows(order, tc.batch_size, groups),
                           disable=not (tc.progress and main),
                           desc=f"{cfg.name or cfg.method} ep {epoch}", leave=False, file=sys.stderr)
                for rows in bar:
                    if n_ranks > 1:
                        units = len(rows) if groups is None else len(set(groups[rows].tolist()))
                        if units < n_ranks:
                            continue  # every rank needs a non-empty shard
                        rows = shard_rows(rows, rank, n_ranks, groups)
                    batch = collate_rows(train, rows)
                    if sampler is not None:
                        batch = replace(batch, train_mask=self._train_mask(sampler, batch, epoch))
                    batch = batch.to(self.device)
                    out = net(batch)
                    if not ddp.all_finite(out.loss.detach()):
                        raise NonFiniteLossError(
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
                        log.write({"type": "step", "epoch": epoch, "step": step} | vals)
                    bar.set_postfix(loss=f"{vals['loss']:.3f}")
                train_time = time.perf_counter() - t0
                times.append(train_time)
                recs = evaluate_conditions(method, valid, split_name="valid", conditions=conditions,
                                           mask_seeds=[tc.valid_mask_seed], cache=cache,
                                           device=self.device)
                score, sel_inputs = sel.score(recs)
                # min_delta tie rule; an undefined score never wins; epoch 0 always gives best.pt
                improved = sel.improves(score, best) or best_epoch < 0
                if improved:
                    best, best_epoch, bad = score, epoch, 0
                else:
                    bad += 1
                bal = balance.record_epoch(method, epoch, improved)
                log.write({
                    "type": "epoch", "epoch": epoch, "train": {k: v / max(nb, 1) for k, v in sums.items()},
                    "valid": {f"{r['condition']}/{r['metric']}": r["value"] for r in recs},
                    "select_score": _finite_or_none(score), "best_epoch": best_epoch,
                    "train_seconds": train_time,
                    "select": {"metric": sel.metric, "direction": sel.direction,
                               "inputs": {c: _finite_or_none(v) for c, v in sel_inputs.items()},
                               "score": _finite_or_none(score), "best": _finite_or_none(best),
                               "improved": improved, "min_delta": sel.min_delta},
                } | ({"balance": bal["terms"], "balance_total": bal["total"]} if bal else {}))
                payload = self._payload(method, "last", epoch, best)
                payload["resume"] = {
                    "method": {k: v.cpu() for k, v in method.state_dict().items()},
                    "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                    "best_epoch": best_epoch, "bad": bad, "times": times,
                    "log_offset": log.size, "balance": balance.state(),
                }
                if main:  # last.pt first: a failure after it still leaves a resumable run
                    save_checkpoint(payload, last)
                    if improved:
                        save_checkpoint(self._payload(method, "best", epoch, best),
                                        self.run_dir / "best.pt")
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
        summary |= {"method": cfg.method, "name": cfg.name or cfg.method,
                    "select_metric": sel.metric, "select_direction": sel.direction,
                    "min_delta": sel.min_delta, "missing_input": cfg.model.missing_input}
        summary |= balance.summary()
        if main:
            _write_text_atomic(self.run_dir / "summary.json", json.dumps(summary, indent=2))
        ddp.barrier()  # no rank returns before rank 0 has written everything
        return res


def _finite_or_none(v: float) -> float | None:
    """JSON-safe score: an undefined (NaN / inf) value is logged as null."""
    return float(v) if math.isfinite(v) else None


class _AppendLog:
    """``metrics.jsonl`` opened ``O_APPEND``: records are only ever added, one ``write`` each;
    ``size`` is the byte length after the last record (stored in ``last.pt``)."""

    def __init__(self, path: Path, *, active: bool) -> None:
        self.path, self.fd, self.size = path, None, 0
        if active:
            try:
                self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            except OSError as e:
                raise OutputError(f"{path}: cannot write ({os_error_text(e)})") from None
            self.size = os.fstat(self.fd).st_size

    def write(self, record: dict) -> None:
        if self.fd is not None:
            self.size = append_line(self.fd, json.dumps(record), self.path)

    def __enter__(self) -> _AppendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def train(cfg: ExperimentConfig, run_dir: str | Path, *, data: MSADataset | None = None,
          resume: bool = False, overwrite: bool = False) -> FitResult:
    """Public entry point: load ``cfg.data`` as raw data (unless given) and fit ``cfg.method``.

    The run directory and the device are checked before any data is loaded; ``resume`` /
    ``overwrite`` as in `Trainer.fit`.
    """
    rundir.check_run_dir(run_dir, resume=resume, overwrite=overwrite)
    resolve_device(cfg.train.device)
    if data is None:
        data = cfg.data.load()
    return Trainer(cfg, data, run_dir).fit(resume=resume, overwrite=overwrite)
