"""`robustmsa data`: inspect, generate and convert datasets.

- ``robustmsa data info PATH_OR_NAME [--json] [--seed N]``
- ``robustmsa data make-synthetic --preset mosi --seed 0 --out PATH``
- ``robustmsa data convert IN --out PATH.npz [--seed N]``
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy / the data package load only when a subcommand runs (fast --help)
    import numpy as np

    from robustmsa.data.schema import MSADataset, MSASplit

# names of `robustmsa.data.synthetic.PRESETS`, listed here so building the parser imports
# nothing heavy (tests/test_cli.py checks they agree)
PRESET_NAMES: tuple[str, ...] = ("mosi", "small")


def _video_ids(ds: MSADataset, sp: MSASplit) -> np.ndarray | None:
    """Video id per sample, where the dataset's ids encode it (mosi_bclstm, MMSA ``$_$``)."""
    import numpy as np

    ids = [str(i) for i in sp.ids]
    if ids and all("$_$" in i for i in ids):
        return np.array([i.split("$_$")[0] for i in ids])
    if ds.info.name.startswith("mosi_bclstm"):
        from robustmsa.data.readers.mosi_bclstm import video_id

        return np.array([video_id(i) for i in ids])
    return None


def _stats(x: np.ndarray) -> dict:
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    return {"min": float(x.min()), "mean": float(x.mean()), "max": float(x.max())}


def dataset_summary(ds: MSADataset) -> dict:
    """JSON-ready summary of ``ds``: per split sizes, shapes, length and label statistics."""
    import numpy as np

    from robustmsa.data.natural import split_missing

    splits = {}
    for name, sp in ds.splits.items():
        y = np.asarray(sp.labels, dtype=np.float64)
        nat = split_missing(sp)
        entry: dict = {
            "n": len(sp),
            "modalities": {
                m: {"shape": list(x.shape), "lengths": _stats(sp.lengths[m]),
                    "frame_mask": "explicit" if m in sp.frame_valid else "prefix",
                    "natural_missing": nat[m]}
                for m, x in sp.features.items()
            },
            "labels": {
                "mean": float(y.mean()), "std": float(y.std()), "min": float(y.min()),
                "max": float(y.max()), "zeros": int((y == 0).sum()),
                "pct_nonneg": float(100.0 * (y >= 0).mean()),
            },
        }
        if sp.extras:
            entry["extras"] = {k: list(v.shape) for k, v in sp.extras.items()}
        if y.ndim == 2:
            entry["labels"]["columns"] = int(y.shape[1])
        vids = _video_ids(ds, sp)
        if vids is None and sp.groups is not None:
            vids = np.asarray(sp.groups)
        if vids is not None:
            entry["videos"] = int(len(set(vids.tolist())))
        splits[name] = entry
    return {"info": ds.info.to_dict(), "splits": splits}


def _print_summary(s: dict) -> None:
    info = s["info"]
    print(f"dataset {info['name']}  (source: {info['source']})")
    print(f"  labels: {info['label_kind']}"
          + (f" {info['class_names']}" if info["label_kind"] == "class" else
             f" in [{info['score_range'][0]:g}, {info['score_range'][1]:g}]"))
    if info.get("target_names"):
        print(f"  targets ({len(info['target_names'])}): {', '.join(info['target_names'])}")
    print("  dims: " + ", ".join(f"{m} {d}" for m, d in info["dims"].items())
          + "; padded lengths: " + ", ".join(f"{m} {t}" for m, t in info["seq_lens"].items()))
    for name, e in s["splits"].items():
        head = f"  [{name}] n={e['n']}"
        if "videos" in e:
            head += f"  videos={e['videos']}"
        print(head)
        for m, me in e["modalities"].items():
            ln = me["lengths"]
            nat = me["natural_missing"]
            fm = nat["frames_missing"]
            print(f"    {m:<7} shape {tuple(me['shape'])}  length min/mean/max "
                  f"{ln['min']:g}/{ln['mean']:.1f}/{ln['max']:g}  naturally absent "
                  f"{100 * nat['absent']:.1f}%  missing steps "
                  + ("—" if fm != fm else f"{100 * fm:.1f}%")
                  + f"  valid steps {nat['valid_steps']:.1f}"
                  + ("  (explicit frame mask)" if me["frame_mask"] == "explicit" else ""))
        lb = e["labels"]
        print(f"    labels  mean {lb['mean']:.3f}  std {lb['std']:.3f}  min {lb['min']:g}  "
              f"max {lb['max']:g}  zeros {lb['zeros']}  >=0 {lb['pct_nonneg']:.1f}%")
        for k, shape in e.get("extras", {}).items():
            print(f"    extra   {k} {tuple(shape)}")
    if info.get("notes"):
        print(f"  notes: {info['notes']}")


def _info(args: argparse.Namespace) -> int:
    from robustmsa.data import load_data

    summary = dataset_summary(load_data(args.data, seed=args.seed))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0


def _make_synthetic(args: argparse.Namespace) -> int:
    from robustmsa.data import make_synthetic_preset, save_dataset

    ds = make_synthetic_preset(args.preset, random_state=args.seed)
    path = save_dataset(ds, args.out)
    print(f"wrote {path} and {path.with_suffix('.json')} "
          f"({', '.join(f'{k} {len(v)}' for k, v in ds.splits.items())})")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from robustmsa.data import load_data, save_dataset

    ds = load_data(args.input, seed=args.seed)
    path = save_dataset(ds, args.out)
    print(f"wrote {path} and {path.with_suffix('.json')} from {args.input} "
          f"({', '.join(f'{k} {len(v)}' for k, v in ds.splits.items())})")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``robustmsa data`` and its subcommands."""
    p = sub.add_parser("data", help="inspect, generate and convert datasets",
                       description="Inspect, generate and convert datasets.")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True
    src_help = ("dataset path (.npz/.json, MMSA/MulT/MMSA-FET pickle, dataset folder) or "
                "built-in name (synthetic, synthetic:mosi, synthetic:small, mosi_bclstm, ict_mmmo_mfn, "
                "pom_mfn, youtube_mfn)")

    pi = dsub.add_parser("info", help="print splits, shapes, lengths and label statistics",
                         description="Print splits, sample counts, per-modality shapes (N,T,D), "
                                     "length and label statistics, natural missing rates per "
                                     "modality and split (samples without the modality, "
                                     "all-zero steps), and videos per split where known.")
    pi.add_argument("data", metavar="PATH_OR_NAME", help=src_help)
    pi.add_argument("--json", action="store_true", help="machine-readable JSON output")
    pi.add_argument("--seed", type=int, default=0,
                    help="synthetic random_state / validation-video seed (default 0)")
    pi.set_defaults(func=_info)

    pm = dsub.add_parser("make-synthetic", help="generate a synthetic benchmark (.npz + .json)",
                         description="Generate a synthetic preset and write it in the "
                                     "project's .npz + .json format.")
    pm.add_argument("--preset", choices=sorted(PRESET_NAMES), default="mosi",
                    help="preset (default mosi)")
    pm.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    pm.add_argument("--out", required=True, metavar="PATH", help="output path (.npz added)")
    pm.set_defaults(func=_make_synthetic)

    pc = dsub.add_parser("convert", help="convert any readable dataset to .npz + .json",
                         description="Read any supported format and write the project's "
                                     "pickle-free .npz + .json.")
    pc.add_argument("input", metavar="IN", help=src_help)
    pc.add_argument("--out", required=True, metavar="PATH.npz", help="output .npz path")
    pc.add_argument("--seed", type=int, default=0,
                    help="synthetic random_state / validation-video seed (default 0)")
    pc.set_defaults(func=_convert)
