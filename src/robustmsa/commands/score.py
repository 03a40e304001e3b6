"""`robustmsa score FILE.npz --convention mosi`: metrics of saved predictions as one JSON line.

The file is read with ``np.load(allow_pickle=False)``; arrays ``pred`` and ``truth`` (renamable
with ``--pred-key``/``--truth-key``) go through `robustmsa.metrics.score`. The output is one JSON
object: ``"convention"`` plus the convention's metric names (MMSA's names for mosi / mosei /
sims / mmsa_classification), unrounded unless ``--decimals`` is given; undefined values
(e.g. Corr of a constant prediction) are ``null``. Any problem with the file raises
`DataError` naming the file and key (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from robustmsa.errors import ConfigError, DataError

if TYPE_CHECKING:  # numpy / scikit-learn load only when the command runs (fast --help)
    import numpy as np

# names of `robustmsa.metrics.CONVENTIONS`, listed here so building the parser imports nothing
# heavy (tests/test_cli.py checks they agree)
CONVENTION_NAMES: tuple[str, ...] = (
    "mosi", "mosei", "sims", "mmsa_classification", "classification", "iemocap",
)

_EPILOG = """conventions:
  mosi, mosei          Has0/Non0 acc-2 and F1, Mult_acc_5/7, MAE, Corr (MMSA names)
  sims                 Mult_acc_2/3/5, F1_score, MAE, Corr on values clipped to [-1, 1]
  mmsa_classification  MMSA 3-class logits mode: Has0/Non0 acc-2 and F1, Acc_3, F1_score_3
  classification       Acc, F1_weighted, F1_macro, F1_<class> (pred: labels or (N, C) scores)
  iemocap              Acc_<emotion>, F1_<emotion> of binary heads (pred (N, C, 2) or (N, C))
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="compute metrics (MMSA conventions) from a .npz of predictions and truths",
        description=(
            "Compute the metrics of one convention on arrays stored in an .npz file and print "
            "them as one JSON object (keys: 'convention' + the metric names)."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE.npz", help="npz archive holding the arrays")
    p.add_argument(
        "--convention", required=True, choices=sorted(CONVENTION_NAMES), help="metric convention"
    )
    p.add_argument("--pred-key", default="pred", help="array name of the predictions (default: pred)")
    p.add_argument("--truth-key", default="truth", help="array name of the truths (default: truth)")
    p.add_argument(
        "--weight-key", default=None, help="array name of per-sample weights (classification only)"
    )
    p.add_argument(
        "--class-names",
        default=None,
        help="comma-separated class/emotion names (classification, iemocap), e.g. neg,neu,pos",
    )
    p.add_argument(
        "--decimals", type=int, default=None, help="round values (MMSA rounds to 4); default exact"
    )
    p.set_defaults(func=run)


def _one_line(msg: object) -> str:
    return " ".join(str(msg).split())


def _load_arrays(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    import numpy as np

    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz archive ({_one_line(e)})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: not an .npz archive (holds a single array; use np.savez)")
    with archive:
        out = {}
        for key in keys:
            if key not in archive.files:
                raise DataError(
                    f"{path}: key {key!r} not found (keys: {', '.join(archive.files) or 'none'})"
                )
            try:
                out[key] = archive[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
                raise DataError(f"{path}: key {key!r}: unreadable array ({_one_line(e)})") from e
    return out


REGRESSION_CONVENTIONS = frozenset({"mosi", "mosei", "sims"})


def _optional_text(path: Path, key: str) -> str | None:
    """The string scalar ``key`` of the archive (``robustmsa predict`` metadata), or None."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                return None
            v = archive[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    return str(v.item()) if v.shape == () and v.dtype.kind in "US" else None


def check_task_fits(path: Path, task: str | None, convention: str, pred_key: str) -> None:
    """Refuse a convention that does not fit the model that wrote the predictions.

    ``robustmsa predict`` records the model's task kind in ``task``. A class model's ``pred``
    holds class probabilities and its ``score`` the expected class centre (P(pos) - P(neg) for
    2 classes): neither is a sentiment regression, so MAE / Corr / Acc-5 / Acc-7 of a
    regression convention would be numbers without meaning. Files without ``task`` (other
    frameworks) are not checked.

    Raises:
        DataError: naming the file, the task and the convention to use.
    """
    if task is None:
        return
    if task == "multi_regression":
        raise DataError(
            f"{path}: predictions of a multi-target regression model ('{pred_key}' = (N, K) "
            "scores on the targets' own scale) fit no sentiment convention, so "
            f"{convention!r} would be meaningless; use robustmsa evaluate (MAE / Corr per "
            "target)"
        )
    if task != "regression" and convention in REGRESSION_CONVENTIONS:
        raise DataError(
            f"{path}: predictions of a {task!r} class model ('{pred_key}' = class "
            "probabilities; 'score' = expected class centre, P(pos) - P(neg) for 2 classes) are "
            f"not sentiment regression scores, so convention {convention!r} (MAE, Corr, "
            "Acc-7) would be meaningless; use --convention classification (truth = class ids), "
            "or train with task.kind=regression"
        )
    if task == "regression" and convention not in REGRESSION_CONVENTIONS:
        raise DataError(
            f"{path}: predictions of a regression model are scores, not class outputs; use "
            "--convention mosi, mosei or sims"
        )


def run(args: argparse.Namespace) -> int:
    from robustmsa.metrics import CONVENTIONS, MetricInputError, score

    path = Path(args.file)
    convention = args.convention
    accepted = CONVENTIONS[convention][1]
    if args.class_names is not None and "class_names" not in accepted:
        raise ConfigError(f"--class-names: not used by convention {convention!r}")
    if args.weight_key is not None and "sample_weight" not in accepted:
        raise ConfigError(f"--weight-key: not used by convention {convention!r}")
    class_names = None
    if args.class_names is not None:
        class_names = [c.strip() for c in args.class_names.split(",")]
        if any(not c for c in class_names):
            raise ConfigError(f"--class-names: empty name in {args.class_names!r}")

    keys = {"pred": args.pred_key, "truth": args.truth_key}
    if args.weight_key is not None:
        keys["sample_weight"] = args.weight_key
    arrays = _load_arrays(path, list(dict.fromkeys(keys.values())))
    check_task_fits(path, _optional_text(path, "task"), convention, keys["pred"])
    try:
        result = score(
            arrays[keys["pred"]],
            arrays[keys["truth"]],
            convention,
            class_names=class_names,
            sample_weight=arrays[keys["sample_weight"]] if "sample_weight" in keys else None,
        )
    except MetricInputError as e:
        msg = _one_line(e)
        if e.argument == "class_names":
            raise ConfigError(f"--class-names: {msg.removeprefix('class_names: ')}") from e
        if e.argument in keys:
            msg = msg.removeprefix(f"{e.argument}: ")
            raise DataError(f"{path}: key {keys[e.argument]!r}: {msg}") from e
        msg = msg.replace("pred and truth", f"{keys['pred']!r} and {keys['truth']!r}")
        raise DataError(f"{path}: keys {keys['pred']!r}/{keys['truth']!r}: {msg}") from e
    print(json.dumps(result.to_json_dict(args.decimals), allow_nan=False))
    return 0
