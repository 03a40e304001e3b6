"""The README's headline table of a committed benchmark: subsets, Avg., complete and the
frame-drop AUC of the primary metric, read from the report's CSV tables (mean ± sample sd).

    .venv/bin/python benchmarks/readme_table.py benchmarks/results/corrkd_mosi_bclstm [--metric F1]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {r["Method"]: r for r in csv.DictReader(f)}


def _cell(r: dict[str, str], col: str, digits: int) -> str:
    if not r.get(col):
        return "—"
    m, sd = float(r[col]), r.get(f"{col} sd")
    return f"{m:.{digits}f}" + (f" ± {float(sd):.{digits}f}" if sd not in (None, "") else "")


def table(result_dir: Path, metric: str, digits: int = 2) -> str:
    tables = result_dir / "tables"
    subsets = _rows(tables / f"subsets_{metric}.csv")
    fd_path = tables / f"frame_drop_{metric}.csv"
    frame = _rows(fd_path) if fd_path.exists() else {}
    first = next(iter(subsets.values()))
    cols = [c for c in first if c not in ("Method", "n") and not c.endswith((" sd", " n"))]
    auc = next((c for c in (next(iter(frame.values()), {})) if c.startswith("AUC")
                and not c.endswith((" sd", " n"))), None)
    head = ["Method", "n", *cols] + ([f"frame-drop {auc}"] if auc else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in subsets.items():
        cells = [name, r["n"], *(_cell(r, c, digits) for c in cols)]
        if auc:
            cells.append(_cell(frame.get(name, {}), auc, digits))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result_dir", type=Path)
    ap.add_argument("--metric", default="F1")
    ap.add_argument("--digits", type=int, default=2)
    a = ap.parse_args()
    print(table(a.result_dir, a.metric, a.digits))


if __name__ == "__main__":
    main()
