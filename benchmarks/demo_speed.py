"""Wall time of ``make demo`` (``.venv`` already built): on the machine as it is, then with a
competing job (another training on both cores) running alongside.

Runs exactly the demo's command, ``python -m robustmsa benchmark --config configs/demo.yaml
--workers 2``, into a temporary ``out_dir`` (nothing reused), twice: alone, and while a
``robustmsa train`` of the teacher on ``synthetic:mosi`` with ``train.threads=2`` runs in
another process (started first, stopped afterwards). Records ``os.getloadavg()`` around each.
Goal (issue 15): <= 180 s alone on an idle 2-core machine, <= 2x that with the other job.

    .venv/bin/python benchmarks/demo_speed.py          # -> benchmarks/results/demo_speed.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from robustmsa.fileio import atomic_write

REPO = Path(__file__).resolve().parents[1]
DEMO = [sys.executable, "-m", "robustmsa", "benchmark", "--config", "configs/demo.yaml",
        "--workers", "2", "--no-progress"]
COMPETITOR = [sys.executable, "-m", "robustmsa", "train", "method=teacher",
              "data.source=synthetic:mosi", "train.epochs=1000", "train.patience=1000",
              "train.threads=2", "train.progress=false"]


def timed_demo(out: Path) -> dict:
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    subprocess.run([*DEMO, f"out_dir={out}"], cwd=REPO, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return {"wall_s": time.perf_counter() - t0, "load_before": list(load0),
            "load_after": list(os.getloadavg())}


def main() -> None:
    res = {"command": "python benchmarks/demo_speed.py", "demo": " ".join(DEMO[1:]),
           "competitor": " ".join(COMPETITOR[1:]), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="demo_speed_") as tmp:
        res["alone"] = timed_demo(Path(tmp) / "alone")
        print(f"alone: {res['alone']['wall_s']:.0f} s", flush=True)
        other = subprocess.Popen([*COMPETITOR, "--out", str(Path(tmp) / "competitor")], cwd=REPO,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(10)  # let it load its data and start training
            res["with_other_job"] = timed_demo(Path(tmp) / "loaded")
        finally:
            other.terminate()
            other.wait(timeout=60)
        print(f"with another job: {res['with_other_job']['wall_s']:.0f} s", flush=True)
    res["slowdown"] = res["with_other_job"]["wall_s"] / res["alone"]["wall_s"]
    dest = REPO / "benchmarks" / "results" / "demo_speed.json"
    atomic_write(dest, (json.dumps(res, indent=1) + "\n").encode())
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
