"""Training and evaluation speed: the reference code vs the current code, interleaved.

The reference is the library as of commit ``REFERENCE`` (before the speed work: torch's
``nn.TransformerEncoder``, bernoulli dropout masks, per-parameter Adam), exported with
``git archive`` into a temporary folder; the current code is this checkout's ``src``. Each
(code, dataset) job runs in its own process with the same thread count and trains, on the same
data, ``teacher`` then ``corrkd`` (distilled from that teacher) for ``--epochs`` epochs with the
default model, then times one full robustness sweep (7 subsets + 11 frame-drop rates on the
686 test clips, one mask seed, masks drawn from scratch) of the CorrKD checkpoint. Jobs
alternate reference / current for ``--rounds`` rounds, so machine load hits both alike.

Seconds per epoch = median of the training epochs after the first (validation excluded; the
trainer's ``train_seconds``). Datasets: ``synthetic:mosi`` (1284/229/686, T = 50, dims
300/5/20) and a synthetic pickle in MMSA's ``aligned_50.pkl`` layout (text 768-d, audio 5,
vision 20; ``benchmarks/mmsa_layout.py``). ``os.getloadavg()`` is recorded around every job.

    .venv/bin/python benchmarks/train_speed.py                      # -> benchmarks/results/train_speed.json
    .venv/bin/python benchmarks/train_speed.py --threads 1 --epochs 2 --rounds 1 --out runs/ts.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from robustmsa.fileio import atomic_write

REPO = Path(__file__).resolve().parents[1]
REFERENCE = "4e23c19"  # last commit before the speed work (issue 15)

CHILD = r"""
import json, os, sys, time
from pathlib import Path
import torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
from robustmsa.config import DataConfig, load_config
from robustmsa.engine.trainer import Trainer
from robustmsa.evaluation.api import evaluate
out = Path(args["out"])
data = DataConfig(source=args["source"]).load()  # what each version's trainer expects
ov = ["data.source=" + args["source"], "train.epochs=%d" % args["epochs"],
      "train.patience=%d" % (args["epochs"] + 1), "train.progress=false"] + args["extra"]
res = {}
teacher = ""
for method in args["methods"]:
    cfg = load_config(None, ["method=" + method] + ov + (["teacher=" + teacher] if method != "teacher" else []))
    Trainer(cfg, data, out / method).fit()
    recs = [json.loads(l) for l in (out / method / "metrics.jsonl").read_text().splitlines()]
    res[method] = [r["train_seconds"] for r in recs if r["type"] == "epoch"]
    if method == "teacher":
        teacher = str(out / "teacher" / "best.pt")
last = args["methods"][-1]
_, timing = evaluate([out / last / "best.pt"], data, protocols=["subsets", "frame_drop"],
                     mask_seeds=[0])  # fresh masks; seconds of the sweep itself
res["sweep_s"] = float(list(timing.values())[0])
res["sweep_method"] = last
res["threads_seen"] = torch.get_num_threads()
print("RESULT " + json.dumps(res))
"""


def export_reference(ref: str, dest: Path) -> Path:
    """``src/`` of commit ``ref`` under ``dest`` (git archive; the checkout is not touched)."""
    tar = dest / "ref.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(tar), ref, "src"],
                   check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(dest / "ref", filter="data")
    return dest / "ref" / "src"


def run_job(src: Path, args: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(args["threads"]),
           "MKL_NUM_THREADS": str(args["threads"])}  # for the child process only
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], env=env, cwd=REPO,
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"job failed ({src}):\n{p.stderr[-3000:]}")
    line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT "))
    res = json.loads(line[len("RESULT "):])
    res["wall_s"] = time.perf_counter() - t0
    res["load_before"], res["load_after"] = list(load0), list(os.getloadavg())
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", default=REFERENCE)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--datasets", nargs="+", default=["synthetic:mosi", "mmsa_aligned_50"])
    ap.add_argument("--methods", nargs="+", default=["teacher", "corrkd"])
    ap.add_argument("--variants", nargs="+", default=["reference", "current"])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "train_speed.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="train_speed_") as tmp:
        tmpd = Path(tmp)
        srcs = {"current": REPO / "src"}
        if "reference" in a.variants:
            srcs["reference"] = export_reference(a.reference, tmpd)
        sources = {}
        for ds in a.datasets:
            if ds == "mmsa_aligned_50":
                sys.path.insert(0, str(REPO / "src"))
                sys.path.insert(0, str(REPO / "benchmarks"))
                import mmsa_layout

                sources[ds] = str(mmsa_layout.write(tmpd / "aligned_50_synthetic.pkl"))
            else:
                sources[ds] = ds
        jobs = []
        for r in range(a.rounds):
            for ds in a.datasets:
                for v in a.variants:
                    args = {"source": sources[ds], "threads": a.threads, "epochs": a.epochs,
                            "methods": a.methods, "extra": [],
                            "out": str(tmpd / f"{v}_{ds.replace(':', '_')}_{r}")}
                    if v == "current":
                        args["extra"] = [f"train.threads={a.threads}"]
                    res = run_job(srcs[v], args)
                    jobs.append({"round": r, "dataset": ds, "variant": v} | res)
                    print(f"round {r} {ds} {v}: " + ", ".join(
                        f"{m} {statistics.median(res[m][1:] or res[m]):.2f} s/epoch" for m in a.methods)
                        + f", sweep {res['sweep_s']:.2f} s", flush=True)
    summary = {}
    for ds in a.datasets:
        row = {}
        for v in a.variants:
            js = [j for j in jobs if j["dataset"] == ds and j["variant"] == v]
            row[v] = {m: statistics.median([e for j in js for e in (j[m][1:] or j[m])])
                      for m in a.methods}
            row[v]["sweep_s"] = statistics.median(j["sweep_s"] for j in js)
        if {"reference", "current"} <= set(a.variants):
            row["speedup"] = {k: row["reference"][k] / row["current"][k] for k in row["current"]}
        summary[ds] = row
    result = {
        "command": "python benchmarks/train_speed.py " + " ".join(sys.argv[1:]),
        "reference_commit": a.reference, "threads": a.threads, "epochs": a.epochs,
        "rounds": a.rounds, "cpus": os.cpu_count(), "summary": summary, "jobs": jobs,
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, (json.dumps(result, indent=1) + "\n").encode())
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
