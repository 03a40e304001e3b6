"""Markdown table of validation sweeps written by ``benchmarks/tune.py``: per variant, the
validation selection score, the seeds, and every distinctive term's share of the update
averaged from the start to the selected epoch (✔ = at least 5 %, the acting threshold).

Run:
    .venv/bin/python benchmarks/tune_table.py benchmarks/results/tune_corrkd_scd_mosi_bclstm_*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from robustmsa.engine.builder import method_class
from robustmsa.engine.diagnostics import ACTING_SHARE


def table(paths: list[str]) -> str:
    lines = ["| Sweep | Variant (`method_config`) | Seeds | Validation score | Mean share of the "
             "update (distinctive terms) | Task terms | Chosen |", "|---|---|---|---|---|---|---|"]
    for p in paths:
        d = json.loads(Path(p).read_text())
        terms = method_class(d["method"]).distill_terms
        for r in d["rows"]:
            sh = r["mean_share"]
            dist = ", ".join(f"{k} {100 * sh.get(k, 0):.1f} %{' ✔' if sh.get(k, 0) >= ACTING_SHARE else ''}"
                             for k in terms if k in sh)
            task = sum(v for k, v in sh.items() if k not in terms)
            chosen = " / ".join(n for n, key in (("best", "best"), ("best acting", "best_acting"))
                                if d.get(key) == r["method_config"])
            mc = json.dumps(r["method_config"]).replace('"', "") or "{}"
            lines.append(f"| `{Path(p).stem}` | `{mc}` | {len(r['seeds'])} "
                         f"| {r['valid_select_score']:.4f} | {dist} | {100 * task:.1f} % | {chosen} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    print(table(ap.parse_args().files))


if __name__ == "__main__":
    main()
