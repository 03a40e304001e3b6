"""Training speed side by side with MMSA 2.2.1 on one synthetic ``aligned_50``-layout pickle.

Creates MMSA's own environment outside the repository (``--env``, default
``runs/mmsa_env``): ``python -m venv``, ``pip install torch==2.13.0`` first (the CPU build
from the local index, so nothing pulls a CUDA torch), then ``mmsa==2.2.1`` constrained to that
torch. Builds one pickle in MMSA's MOSI ``aligned_50.pkl`` layout (``benchmarks/mmsa_layout.py``:
1,284 / 229 / 686 clips, T = 50, text 768 / audio 5 / vision 20) and, in one run, interleaved
over ``--rounds``, trains for ``--epochs`` epochs: MMSA's MulT, TFR-Net, TFN and LF-DNN (its
own data loader, model, trainer and default MOSI hyper-parameters) and robustmsa's
``teacher`` and ``corrkd`` (default model). Every job is its own process with ``--threads``
torch threads. Seconds per epoch = median over the epochs after the first of the training
loop only (validation excluded); ratios are MMSA / robustmsa ``corrkd``.

MMSA's code is used as installed and patched at run time only (never edited): ``torch.cuda.
set_device`` becomes a no-op on CPU builds, ``ReduceLROnPlateau(verbose=...)`` (removed from
torch) drops the argument, and TFR-Net's ``bert-base-uncased`` (not downloadable offline) is a
randomly initialised 1-layer BERT of the same width. ``os.getloadavg()`` is recorded around
every job.

    .venv/bin/python benchmarks/mmsa_speed.py                 # -> benchmarks/results/mmsa_speed.json
    .venv/bin/python benchmarks/mmsa_speed.py --epochs 2 --rounds 1 --out runs/mmsa_speed_check.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from robustmsa.fileio import atomic_write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import REPO, run_job  # noqa: E402

MMSA_MODELS = ("mult", "tfr_net", "tfn", "lf_dnn")

MMSA_CHILD = r"""
import json, sys, time
import torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
# --- run-time patches (the installed package is not modified) ---
if not torch.cuda.is_available():
    torch.cuda.set_device = lambda *a, **k: None
import torch.optim.lr_scheduler as sched
class ReduceLROnPlateau(sched.ReduceLROnPlateau):
    def __init__(self, *a, verbose=None, **k):
        super().__init__(*a, **k)
sched.ReduceLROnPlateau = ReduceLROnPlateau
import transformers
class TinyBert(transformers.BertModel):
    @classmethod
    def from_pretrained(cls, *a, **k):
        return cls(transformers.BertConfig(num_hidden_layers=1))
class NoTokenizer:
    @classmethod
    def from_pretrained(cls, *a, **k):
        return cls()
import importlib
bte = importlib.import_module("MMSA.models.subNets.BertTextEncoder")  # the module, not the class
bte.TRANSFORMERS_MAP["bert"] = (TinyBert, NoTokenizer)
# ---
from MMSA.config import get_config_regression
from MMSA.data_loader import MMDataLoader
from MMSA.models import AMIO
from MMSA.trains import ATIO
from MMSA.utils.functions import setup_seed

class Stop(Exception):
    pass

class Timed:
    # wraps the training DataLoader: time from iter() to exhaustion = one training loop
    def __init__(self, dl, epochs, times, max_batches):
        self.dl, self.epochs, self.times, self.max_batches = dl, epochs, times, max_batches
    def __len__(self):
        return min(len(self.dl), self.max_batches or len(self.dl))
    def __iter__(self):
        if len(self.times) >= self.epochs:
            raise Stop
        t0 = time.perf_counter()
        for i, b in enumerate(self.dl):
            if self.max_batches and i >= self.max_batches:
                break
            yield b
        self.times.append(time.perf_counter() - t0)

cfg = get_config_regression(args["model"], "mosi")
cfg.update({"featurePath": args["pickle"], "custom_feature": None, "feature_T": None,
            "feature_A": None, "feature_V": None, "device": torch.device("cpu"),
            "train_mode": "regression", "cur_seed": 1, "seq_lens": [50, 50, 50],
            "model_save_path": args["out"] + "/model.pth"})
setup_seed(1111)
loaders = MMDataLoader(cfg, 0)
model = AMIO(cfg)
times = []
loaders["train"] = Timed(loaders["train"], args["epochs"], times, args.get("max_batches", 0))
trainer = ATIO().getTrain(cfg)
try:
    trainer.do_train(model, loaders)
except Stop:
    pass
print("RESULT " + json.dumps({"epochs": times, "params": sum(p.numel() for p in model.parameters() if p.requires_grad)}))
"""


def ensure_env(env: Path) -> Path:
    """MMSA's venv (created on first use); returns its python."""
    py = env / "bin" / "python"
    stamp = env / ".mmsa-2.2.1-installed"
    if stamp.exists():
        return py
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
    cons = env / "constraints.txt"
    cons.write_text("torch==2.13.0\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "mmsa==2.2.1", "-c", str(cons)], check=True)
    check = "import torch, MMSA; assert torch.__version__.startswith('2.13.0') and 'cu' not in torch.__version__"
    subprocess.run([str(py), "-c", check], check=True)
    stamp.write_text("ok\n")
    return py


def run_mmsa(py: Path, args: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"OMP_NUM_THREADS": str(args["threads"]), "MKL_NUM_THREADS": str(args["threads"]),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # child process only
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    p = subprocess.run([str(py), "-c", MMSA_CHILD, json.dumps(args)], env=env, cwd=args["out"],
                       capture_output=True, text=True)
    if p.returncode:
        return {"error": p.stderr[-2000:], "load_before": list(load0)}
    line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT "))
    res = json.loads(line[len("RESULT "):])
    res["wall_s"] = time.perf_counter() - t0
    res["load_before"], res["load_after"] = list(load0), list(os.getloadavg())
    return res


def _median_after_first(xs: list[float]) -> float | None:
    return statistics.median(xs[1:] or xs) if xs else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=str(REPO / "runs" / "mmsa_env"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--models", nargs="+", default=list(MMSA_MODELS))
    ap.add_argument("--max-batches", type=int, default=0,
                    help="MMSA: stop each epoch after this many batches (smoke check only; 0 = all)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "mmsa_speed.json"))
    a = ap.parse_args()
    py = ensure_env(Path(a.env))
    sys.path.insert(0, str(REPO / "src"))
    import mmsa_layout

    jobs = []
    with tempfile.TemporaryDirectory(prefix="mmsa_speed_") as tmp:
        pkl = str(mmsa_layout.write(Path(tmp) / "aligned_50_synthetic.pkl"))
        for r in range(a.rounds):
            for name in [*a.models, "robustmsa"]:
                out = Path(tmp) / f"{name}_{r}"
                out.mkdir()
                if name == "robustmsa":
                    res = run_job(REPO / "src", {
                        "source": pkl, "threads": a.threads, "epochs": a.epochs, "out": str(out),
                        "methods": ["teacher", "corrkd"], "extra": [f"train.threads={a.threads}"]})
                    for m in ("teacher", "corrkd"):
                        jobs.append({"round": r, "framework": "robustmsa", "model": m,
                                     "epochs": res[m], "load_before": res["load_before"],
                                     "load_after": res["load_after"]})
                    print(f"round {r} robustmsa: teacher {_median_after_first(res['teacher']):.2f}, "
                          f"corrkd {_median_after_first(res['corrkd']):.2f} s/epoch", flush=True)
                else:
                    res = run_mmsa(py, {"model": name, "pickle": pkl, "threads": a.threads,
                                        "epochs": a.epochs, "out": str(out),
                                        "max_batches": a.max_batches})
                    jobs.append({"round": r, "framework": "mmsa 2.2.1", "model": name} | res)
                    msg = res.get("error", "").strip().splitlines()[-1:] or \
                        [f"{_median_after_first(res['epochs']):.2f} s/epoch"]
                    print(f"round {r} MMSA {name}: {msg[0]}", flush=True)
    table = {}
    for j in jobs:
        key = f"{j['framework']} {j['model']}"
        table.setdefault(key, []).extend((j.get("epochs") or [])[1:] or j.get("epochs") or [])
    summary = {k: (statistics.median(v) if v else None) for k, v in table.items()}
    ref = summary.get("robustmsa corrkd")
    ratios = {k: v / ref for k, v in summary.items() if v and ref}
    result = {"command": "python benchmarks/mmsa_speed.py " + " ".join(sys.argv[1:]),
              "threads": a.threads, "epochs": a.epochs, "rounds": a.rounds,
              "max_batches": a.max_batches,
              "cpus": os.cpu_count(), "s_per_epoch": summary, "ratio_to_robustmsa_corrkd": ratios,
              "jobs": jobs}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, (json.dumps(result, indent=1) + "\n").encode())
    print(json.dumps({"s_per_epoch": summary, "ratio_to_robustmsa_corrkd": ratios}, indent=1))


if __name__ == "__main__":
    main()
