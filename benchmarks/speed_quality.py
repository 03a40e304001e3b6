"""Quality before / after the speed work: the same benchmark trained by the reference code and
by the current code, compared per method against the seed spread.

Runs ``robustmsa benchmark --config CONFIG`` twice, in child processes (one thread each):
with the library of commit ``REFERENCE`` (exported by ``git archive``, as in
``benchmarks/train_speed.py``) and with this checkout's ``src`` (``--workers``). Or, with
``--reference-results FILE``, compares against an existing ``results.json`` of the reference
code instead of retraining it (e.g. the committed synthetic:mosi benchmark). For each method
and each summary (Avg. over the 6 incomplete subsets, complete input, frame-drop AUC) of the
headline metric it reports mean ± std over training seeds (each first averaged over mask
seeds) for both, the difference, and whether |difference| <= the larger of the two stds.

    .venv/bin/python benchmarks/speed_quality.py                                  # synthetic:small, 3 seeds
    .venv/bin/python benchmarks/speed_quality.py --config benchmarks/configs/corrkd_synthetic_mosi.yaml \\
        --reference-results benchmarks/results/corrkd_synthetic_mosi/results.json \\
        --out benchmarks/results/speed_quality_synthetic_mosi.json
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
from collections import defaultdict
from pathlib import Path

from robustmsa.fileio import atomic_write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import REFERENCE, REPO, export_reference  # noqa: E402

SUMMARIES = (("subsets", "avg_incomplete"), ("subsets", "complete"), ("frame_drop", "auc"))


def run_benchmark(src: Path, config: str, out: Path, extra: list[str]) -> tuple[list[dict], float]:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}  # children only
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "robustmsa", "benchmark", "--config", config, *extra,
                    f"out_dir={out}"], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "results.json").read_text()), time.perf_counter() - t0


def summarise(records: list[dict], metric: str) -> dict:
    """method -> summary -> per-seed values (mean over mask seeds)."""
    by: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in records:
        if r["metric"] == metric and (r["protocol"], r["condition"]) in SUMMARIES:
            by[r.get("name") or r["method"]][f"{r['protocol']}/{r['condition']}"][r["seed"]].append(r["value"])
    return {m: {s: [statistics.mean(v) for _, v in sorted(seeds.items())] for s, seeds in d.items()}
            for m, d in by.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "benchmarks" / "configs" / "speed_quality.yaml"))
    ap.add_argument("--reference", default=REFERENCE)
    ap.add_argument("--reference-results", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--metric", default="F1")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "speed_quality.json"))
    a = ap.parse_args()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="speed_quality_") as tmp:
        t = Path(tmp)
        cur, cur_s = run_benchmark(REPO / "src", a.config, t / "current", ["--workers", str(a.workers)])
        if a.reference_results:
            ref, ref_s = json.loads(Path(a.reference_results).read_text()), None
        else:
            ref, ref_s = run_benchmark(export_reference(a.reference, t), a.config, t / "reference", [])
    s_ref, s_cur = summarise(ref, a.metric), summarise(cur, a.metric)
    rows = []
    for m in s_cur:
        for s, vals in s_cur[m].items():
            if s not in s_ref.get(m, {}):
                continue
            rv = s_ref[m][s]
            sd = max(statistics.pstdev(vals), statistics.pstdev(rv))
            diff = statistics.mean(vals) - statistics.mean(rv)
            rows.append({"method": m, "summary": s, "reference_mean": statistics.mean(rv),
                         "reference_std": statistics.pstdev(rv), "current_mean": statistics.mean(vals),
                         "current_std": statistics.pstdev(vals), "difference": diff,
                         "within_seed_std": abs(diff) <= sd, "seeds": len(vals)})
    res = {"command": "python benchmarks/speed_quality.py " + " ".join(sys.argv[1:]),
           "config": a.config, "reference_commit": a.reference,
           "reference_results": a.reference_results, "metric": a.metric,
           "wall_s": {"reference": ref_s, "current": cur_s},
           "load_before": list(load0), "load_after": list(os.getloadavg()), "rows": rows}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, (json.dumps(res, indent=1) + "\n").encode())
    print("| method | summary | reference | current | diff | within seed std |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['summary']} | {100 * r['reference_mean']:.2f} ± {100 * r['reference_std']:.2f} "
              f"| {100 * r['current_mean']:.2f} ± {100 * r['current_std']:.2f} | {100 * r['difference']:+.2f} "
              f"| {'yes' if r['within_seed_std'] else 'NO'} |")


if __name__ == "__main__":
    main()
