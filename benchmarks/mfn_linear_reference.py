"""Linear reference points for the MFN HDF5 releases (the numbers in each folder's README).

Features: per sample and modality, the mean over its non-zero steps (a zero vector when the
modality is absent), concatenated over the modalities used, standardised with the training
part's mean / std. Models: logistic regression (C = 0.1) for classes (ICT-MMMO binary > 3.5,
YouTube 3 classes), ridge regression (alpha = 100) for scores (ICT-MMMO 1-5, POM's 17 columns,
Pearson r and MAE averaged over columns). Settings:

- ``train_test``: the official train -> test split;
- ``valid_test``: ICT-MMMO valid (40) -> test, for text (the train split has none);
- ``cv5x20``: 5-fold stratified CV on valid + test (the samples that have text), repeated 20
  times with shuffles 0..19 (the READMEs' protocol);
- ``cv5_benchmark``: the benchmark's own folds (`robustmsa.data.cv.assign_folds`, seed 0, the
  fold i test split), the model fitted on the other 4 folds (train + valid folds: a fixed
  linear model needs no validation) — the floors shown in the CV benchmark's report.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mfn_linear_reference.py``
-> ``benchmarks/results/mfn_linear_reference.json`` (+ ``.md``); a few seconds on one core.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from robustmsa.data import load_data
from robustmsa.data.cv import assign_folds, concat_splits
from robustmsa.data.schema import MSASplit
from robustmsa.fileio import atomic_write

ROOT = Path(__file__).resolve().parent
LETTERS = {"t": "text", "a": "audio", "v": "vision"}
# The READMEs' numbers, to print next to the reproduced ones.
README = {
    ("ict_mmmo_mfn", "train_test", "a"): {"Acc": 0.662, "F1": 0.650},
    ("ict_mmmo_mfn", "train_test", "v"): {"Acc": 0.537, "F1": 0.542},
    ("ict_mmmo_mfn", "train_test", "av"): {"Acc": 0.675, "F1": 0.665},
    ("ict_mmmo_mfn", "valid_test", "t"): {"Acc": 0.650, "F1": 0.654},
    ("ict_mmmo_mfn", "valid_test", "tav"): {"Acc": 0.725, "F1": 0.727},
    ("ict_mmmo_mfn", "cv5x20", "t"): {"Acc": 0.686, "F1": 0.684},
    ("ict_mmmo_mfn", "cv5x20", "a"): {"Acc": 0.739, "F1": 0.733},
    ("ict_mmmo_mfn", "cv5x20", "v"): {"Acc": 0.602, "F1": 0.572},
    ("ict_mmmo_mfn", "cv5x20", "ta"): {"Acc": 0.777, "F1": 0.776},
    ("ict_mmmo_mfn", "cv5x20", "tav"): {"Acc": 0.771, "F1": 0.770},
    ("ict_mmmo_mfn:score", "train_test", "a"): {"MAE": 1.159, "Corr": 0.365},
    ("ict_mmmo_mfn:score", "train_test", "av"): {"MAE": 1.141, "Corr": 0.362},
    ("ict_mmmo_mfn:score", "train_test", "mean"): {"MAE": 1.360},
    ("pom_mfn", "train_test", "a"): {"MAE": 0.963, "Corr": 0.162},
    ("pom_mfn", "train_test", "v"): {"MAE": 0.972, "Corr": 0.126},
    ("pom_mfn", "train_test", "av"): {"MAE": 0.966, "Corr": 0.200},
    ("pom_mfn", "train_test", "mean"): {"MAE": 0.970},
    ("youtube_mfn", "train_test", "a"): {"Acc": 0.433, "F1": 0.380},
    ("youtube_mfn", "train_test", "v"): {"Acc": 0.467, "F1": 0.413},
    ("youtube_mfn", "train_test", "av"): {"Acc": 0.383, "F1": 0.336},
    ("youtube_mfn", "cv5x20", "t"): {"Acc": 0.454, "F1": 0.449},
    ("youtube_mfn", "cv5x20", "tav"): {"Acc": 0.423, "F1": 0.416},
}


def pooled_means(sp: MSASplit, mods: str) -> np.ndarray:
    """(N, sum D) per-sample means over non-zero steps of the modalities in ``mods``."""
    cols = []
    for letter in mods:
        m = LETTERS[letter]
        x, valid = sp.features[m].astype(np.float64), sp.valid_mask(m)  # (N, T, D), (N, T)
        n = valid.sum(1, keepdims=True)  # (N, 1)
        cols.append((x * valid[..., None]).sum(1) / np.maximum(n, 1))
    return np.concatenate(cols, axis=1)


def _standardise(tr: np.ndarray, te: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = tr.mean(0), tr.std(0)
    sd = np.where(sd < 1e-8, 1.0, sd)
    return (tr - mu) / sd, (te - mu) / sd


def classify(xtr, ytr, xte, yte) -> dict[str, float]:
    xtr, xte = _standardise(xtr, xte)
    clf = LogisticRegression(C=0.1, max_iter=5000).fit(xtr, ytr)
    p = clf.predict(xte)
    return {"Acc": float(accuracy_score(yte, p)),
            "F1": float(f1_score(yte, p, average="weighted"))}


def regress(xtr, ytr, xte, yte, alpha: float = 100.0) -> dict[str, float]:
    ytr2, yte2 = ytr.reshape(len(ytr), -1), yte.reshape(len(yte), -1)
    if xtr is None:  # predict the training mean
        p = np.repeat(ytr2.mean(0, keepdims=True), len(yte2), 0)
        return {"MAE": float(np.abs(p - yte2).mean())}
    xtr, xte = _standardise(xtr, xte)
    p = Ridge(alpha=alpha).fit(xtr, ytr2).predict(xte).reshape(yte2.shape)
    rs = [np.corrcoef(p[:, k], yte2[:, k])[0, 1] for k in range(yte2.shape[1])]
    return {"MAE": float(np.abs(p - yte2).mean()), "Corr": float(np.nanmean(rs))}


def _row(dataset, setting, mods, model, metrics, n_train, n_test, std=None) -> dict:
    r = {"dataset": dataset, "setting": setting, "modalities": mods, "model": model,
         "metrics": metrics, "n_train": n_train, "n_test": n_test,
         "readme": README.get((dataset, setting, mods))}
    if std:
        r["std"] = std
    return r


def _fit_predict(xtr, ytr, xte) -> np.ndarray:
    xtr, xte = _standardise(xtr, xte)
    return LogisticRegression(C=0.1, max_iter=5000).fit(xtr, ytr).predict(xte)


def cv5x20(sp: MSASplit, y: np.ndarray, mods: str) -> tuple[dict, dict]:
    """Out-of-fold predictions of each repeat scored at once; mean (± std) over the repeats."""
    accs, f1s = [], []
    x = pooled_means(sp, mods)
    for rep in range(20):
        pred = np.empty_like(y)
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=rep).split(x, y):
            pred[te] = _fit_predict(x[tr], y[tr], x[te])
        accs.append(accuracy_score(y, pred))
        f1s.append(f1_score(y, pred, average="weighted"))
    return ({"Acc": float(np.mean(accs)), "F1": float(np.mean(f1s))},
            {"Acc": float(np.std(accs, ddof=1)), "F1": float(np.std(f1s, ddof=1))})


def cv_benchmark_folds(sp: MSASplit, y: np.ndarray, mods: str, k: int = 5, seed: int = 0):
    """Per-fold metrics on the benchmark's folds (model on the other 4 folds)."""
    f = assign_folds(sp.groups, k, seed=seed, classes=y)
    x = pooled_means(sp, mods)
    per = [classify(x[f != i], y[f != i], x[f == i], y[f == i]) for i in range(k)]
    return ({k2: float(np.mean([p[k2] for p in per])) for k2 in ("Acc", "F1")},
            {k2: float(np.std([p[k2] for p in per], ddof=1)) for k2 in ("Acc", "F1")})


def _split_rows(dataset: str, setting: str, tr: MSASplit, te: MSASplit, mods_list: tuple[str, ...],
                model: str, fit: Callable[..., dict]) -> list[dict]:
    """One row per modality set: ``fit`` (`classify` / `regress`) on ``tr``'s pooled means,
    scored on ``te``'s."""
    return [_row(dataset, setting, mods, model, fit(pooled_means(tr, mods), tr.labels,
                                                    pooled_means(te, mods), te.labels),
                 len(tr), len(te)) for mods in mods_list]


def run() -> list[dict]:
    rows: list[dict] = []
    lr, ridge = "logistic regression C=0.1", "ridge alpha=100"
    # ICT-MMMO, binary > 3.5
    ict = load_data("ict_mmmo_mfn:binary")
    tr, va, te = ict["train"], ict["valid"], ict["test"]
    rows += _split_rows("ict_mmmo_mfn", "train_test", tr, te, ("a", "v", "av"), lr, classify)
    rows.append(_row("ict_mmmo_mfn", "train_test", "majority", "majority class",
                     {"Acc": float(max(te.labels.mean(), 1 - te.labels.mean()))}, len(tr), len(te)))
    rows += _split_rows("ict_mmmo_mfn", "valid_test", va, te, ("t", "tav"), lr, classify)
    pool = concat_splits([va, te])
    y = np.asarray(pool.labels)
    for mods in ("t", "a", "v", "ta", "tav"):
        m, s = cv5x20(pool, y, mods)
        rows.append(_row("ict_mmmo_mfn", "cv5x20", mods, lr, m, 96, 24, s))
        m, s = cv_benchmark_folds(pool, y, mods)
        rows.append(_row("ict_mmmo_mfn", "cv5_benchmark", mods, lr, m, 96, 24, s))
    rows.append(_row("ict_mmmo_mfn", "cv5_benchmark", "majority", "majority class",
                     {"Acc": float(max(y.mean(), 1 - y.mean()))}, 96, 24))
    # ICT-MMMO score, ridge
    ics = load_data("ict_mmmo_mfn")
    tr, te = ics["train"], ics["test"]
    rows += _split_rows("ict_mmmo_mfn:score", "train_test", tr, te, ("a", "av"), ridge, regress)
    rows.append(_row("ict_mmmo_mfn:score", "train_test", "mean", "train mean",
                     regress(None, tr.labels, None, te.labels), len(tr), len(te)))
    # POM, ridge over the 17 columns
    pom = load_data("pom_mfn")
    tr, te = pom["train"], pom["test"]
    rows += _split_rows("pom_mfn", "train_test", tr, te, ("a", "v", "av"), ridge, regress)
    rows.append(_row("pom_mfn", "train_test", "mean", "train mean",
                     regress(None, tr.labels, None, te.labels), len(tr), len(te)))
    # YouTube, 3 classes (weak data; not a benchmark)
    yt = load_data("youtube_mfn")
    tr, te = yt["train"], yt["test"]
    rows += _split_rows("youtube_mfn", "train_test", tr, te, ("a", "v", "av"), lr, classify)
    pool = concat_splits([yt["valid"], yt["test"]])
    for mods in ("t", "tav"):
        m, s = cv5x20(pool, np.asarray(pool.labels), mods)
        rows.append(_row("youtube_mfn", "cv5x20", mods, lr, m, 77, 19, s))
    return rows


def to_markdown(rows: list[dict]) -> str:
    md = ["# Linear reference points, MFN releases", "",
          "`OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mfn_linear_reference.py`. "
          "Reproduced value, the README's in brackets; ± = sample std over the 20 repeats "
          "(cv5x20) or the 5 folds (cv5_benchmark).", "",
          "| Dataset | Setting | Modalities | Model | Acc | F1 (weighted) | MAE | Corr |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = []
        for k in ("Acc", "F1", "MAE", "Corr"):
            v = r["metrics"].get(k)
            ref = (r["readme"] or {}).get(k)
            sd = (r.get("std") or {}).get(k)
            cells.append("—" if v is None else f"{v:.3f}" + (f" ± {sd:.3f}" if sd else "")
                         + (f" ({ref:.3f})" if ref is not None else ""))
        md.append(f"| {r['dataset']} | {r['setting']} | {r['modalities']} | {r['model']} | "
                  + " | ".join(cells) + " |")
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "mfn_linear_reference.json"))
    args = ap.parse_args()
    rows = run()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, json.dumps(rows, indent=1).encode())
    atomic_write(out.with_suffix(".md"), to_markdown(rows).encode())
    print(to_markdown(rows))
    print(f"wrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
