"""Training throughput: one process with 2 threads vs 2 data-parallel processes (torchrun, gloo).

Trains the teacher on synthetic:mosi (1284 training clips, T = 50) for 3 epochs both ways and
records seconds per epoch from each run's summary.json. Writes
benchmarks/results/ddp_speed.json.

    .venv/bin/python benchmarks/ddp_speed.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from robustmsa.fileio import atomic_write

REPO = Path(__file__).resolve().parents[1]
ARGS = ["method=teacher", "data.source=synthetic:mosi", "train.epochs=3", "train.progress=false"]


def run(cmd: list[str], threads: int, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}  # for the child processes only
    subprocess.run([*cmd, *ARGS, f"train.threads={threads}", "--out", str(out)], check=True,
                   env=env, cwd=REPO,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        one = run([sys.executable, "-m", "robustmsa", "train"], 2, Path(tmp) / "one")
        two = run([str(bin_dir / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m",
                   "robustmsa", "train"], 1, Path(tmp) / "two")
    res = {
        "command": ".venv/bin/python benchmarks/ddp_speed.py",
        "cpus": os.cpu_count(),
        "config": ARGS,
        "one_process_2_threads_s_per_epoch": one["seconds_per_epoch"],
        "two_processes_1_thread_s_per_epoch": two["seconds_per_epoch"],
        "speedup": one["seconds_per_epoch"] / two["seconds_per_epoch"],
    }
    dest = REPO / "benchmarks" / "results" / "ddp_speed.json"
    atomic_write(dest, (json.dumps(res, indent=1) + "\n").encode())
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
