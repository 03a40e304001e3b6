"""Executors for a grid of independent trainings with dependencies (``robustmsa benchmark``).

`run_graph` starts every task whose dependencies are done on an `Executor`, waits for any to
finish, and repeats, printing a live "k of N runs done" line. Three executors:

- `InlineExecutor`: this process, one task at a time (the sequential benchmark);
- `ProcessExecutor`: ``N`` local worker processes (``spawn``: no state inherited from this
  process; the dataset is sent to each worker once);
- `RayExecutor`: Ray tasks (``pip install 'robustmsa[ray]'``) on the cluster at an address,
  or on a local instance (``"local"``); the dataset goes to the object store once and every
  task writes its run directory itself, so the benchmark's ``out_dir`` must be on storage
  every node sees.

Every executor runs the same function (`robustmsa.benchmark.train_task`) on the same inputs;
each training sets its own torch thread count (``train.threads``), so the trained weights do
not depend on the executor. Use `torch.distributed` (``torchrun``) to spread one large
training over processes instead.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from robustmsa.data.schema import MSADataset
from robustmsa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from robustmsa.benchmark import RunTask


class Executor(Protocol):
    """Runs tasks asynchronously: ``submit`` returns a handle, ``wait`` blocks until at least
    one submitted task has finished and returns ``[(handle, result)]`` (result = summary
    dict, or the exception the task raised)."""

    slots: int

    def submit(self, task: RunTask) -> Any: ...

    def wait(self, handles: list[Any]) -> list[tuple[Any, Any]]: ...

    def close(self) -> None: ...


class Progress:
    """The "k of N runs done" line: rewritten in place on a terminal, one line per run else."""

    def __init__(self, total: int, enabled: bool = True, stream=None) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()

    def update(self, key: str, reused: bool, running: int) -> None:
        self.done += 1
        if not self.enabled:
            return
        what = "reused" if reused else "trained"
        line = (f"{self.done} of {self.total} runs done ({key} {what}; {running} running, "
                f"{time.perf_counter() - self.t0:.0f} s)")
        if self.tty:
            end = "\n" if self.done == self.total else ""
            self.stream.write("\r\033[K" + line + end)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def run_graph(tasks: list[RunTask], executor: Executor, *, progress: bool = True
              ) -> dict[str, dict]:
    """Run ``tasks`` on ``executor`` respecting ``deps``; returns key -> result summary.

    Tasks are started in list order as soon as their dependencies are done (at most
    ``executor.slots`` at once). The first failure stops scheduling; running tasks finish,
    then the error is raised.
    """
    keys = {t.key for t in tasks}
    for t in tasks:
        missing = [d for d in t.deps if d not in keys]
        if missing:
            raise ConfigError(f"run {t.key} depends on {missing}, which are not in the grid")
    pending = list(tasks)
    running: dict[Any, RunTask] = {}
    results: dict[str, dict] = {}
    error: BaseException | None = None
    bar = Progress(len(tasks), progress)
    try:
        while pending or running:
            if error is None:
                for t in [t for t in pending if all(d in results for d in t.deps)]:
                    if len(running) >= executor.slots:
                        break
                    running[executor.submit(t)] = t
                    pending.remove(t)
            if not running:
                if error is not None:
                    break
                raise ConfigError("dependency cycle among runs: "
                                  + ", ".join(t.key for t in pending))
            for handle, res in executor.wait(list(running)):
                t = running.pop(handle)
                if isinstance(res, BaseException):
                    error = error or res
                    continue
                results[t.key] = res
                bar.update(t.key, bool(res.get("reused")), len(running))
        if error is not None:
            raise error
    finally:
        executor.close()
    return results


def _call(fn: Callable[[], dict]) -> Any:
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - handed back to run_graph, which re-raises it
        return e


class InlineExecutor:
    """Runs each task in this process when waited for (one at a time)."""

    slots = 1

    def __init__(self, data: MSADataset) -> None:
        self.data = data
        self._queue: dict[int, RunTask] = {}
        self._ids = itertools.count()

    def submit(self, task: RunTask) -> int:
        h = next(self._ids)
        self._queue[h] = task
        return h

    def wait(self, handles: list[int]) -> list[tuple[int, Any]]:
        from robustmsa.benchmark import train_task

        h = handles[0]
        task = self._queue.pop(h)
        return [(h, _call(lambda: train_task(task, self.data)))]

    def close(self) -> None:
        self._queue.clear()


_WORKER_DATA: MSADataset | None = None


def _init_worker(data: MSADataset) -> None:
    global _WORKER_DATA
    _WORKER_DATA = data


def _train_in_worker(task: RunTask) -> dict:
    from robustmsa.benchmark import train_task

    assert _WORKER_DATA is not None
    return train_task(task, _WORKER_DATA)


class ProcessExecutor:
    """``workers`` local processes (``multiprocessing`` spawn context), one task each at a time."""

    def __init__(self, workers: int, data: MSADataset) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        if workers < 1:
            raise ConfigError(f"--workers must be >= 1; got {workers}")
        self.slots = workers
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                        initializer=_init_worker, initargs=(data,))

    def submit(self, task: RunTask) -> Any:
        return self.pool.submit(_train_in_worker, task)

    def wait(self, handles: list[Any]) -> list[tuple[Any, Any]]:
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as fwait

        done, _ = fwait(handles, return_when=FIRST_COMPLETED)
        return [(f, f.exception() or f.result()) for f in done]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Ray tasks of one CPU each on the cluster at ``address`` (``"local"``: a local instance
    with ``workers`` CPUs, started here and shut down afterwards)."""

    def __init__(self, address: str, data: MSADataset, workers: int = 1) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--ray needs Ray: pip install 'robustmsa[ray]'") from None
        from robustmsa.benchmark import train_task

        self.ray = ray
        if address == "local":
            ray.init(num_cpus=max(1, workers if workers > 1 else (os.cpu_count() or 1)),
                     include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1)(train_task)
        self._data = ray.put(data)

    def submit(self, task: RunTask) -> Any:
        return self._remote.remote(task, self._data)

    def wait(self, handles: list[Any]) -> list[tuple[Any, Any]]:
        done, _ = self.ray.wait(handles, num_returns=1)
        out = []
        for ref in done:
            try:
                out.append((ref, self.ray.get(ref)))
            except Exception as e:  # noqa: BLE001 - a task's error (RayTaskError wraps it)
                out.append((ref, getattr(e, "cause", None) or e))
        return out

    def close(self) -> None:
        self.ray.shutdown()
