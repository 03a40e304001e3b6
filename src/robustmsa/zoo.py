"""Ready-to-use models built in one command from data the user has (``robustmsa zoo``).

A *recipe* turns an MMSA-style ``label.csv`` (and, for the multimodal recipe, its folder of
clips) into a checkpoint plus a model card, with the library's own public steps only:

========== ==================================================================================
recipe     steps
========== ==================================================================================
text-mosi  ``extract --text-only`` of CMU-MOSI's ``label.csv`` (bundled MiniLM, 384-d tokens)
           -> ``teacher`` with ``task.kind=regression``, selected on validation MAE, 30 epochs
           (the `transformer_text` model of ``benchmarks/text_reference.py``)
text-mosei the same on CMU-MOSEI's ``label.csv``, 12 epochs (850 MB of features, ~5 min encode)
clips      ``extract`` of an MMSA-FET clip folder (text + audio + vision) -> a complete-input
           ``teacher`` -> a ``corrkd`` student distilled from it under CorrKD's random
           missingness (7-class sentiment, score = expected class centre), selected on
           validation F1 over complete input and the 6 missing-modality subsets
========== ==================================================================================

Every split comes from the label file's ``mode`` column; selection uses the valid split only;
the card reports the test split. A built model lives in ``ROOT/NAME/``: ``model.pt`` (the
checkpoint), ``card.json`` (data, split sizes, test metrics, modalities, extractors, known
limits, training and validation ids) and ``MODEL_CARD.md`` (the same, to read). ``ROOT`` is
``--root``, else ``$ROBUSTMSA_HOME/zoo`` when that variable is set (read, never set), else
``~/.cache/robustmsa/zoo``.

This module imports nothing heavy at import time (the CLI's ``--help`` stays fast).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from robustmsa.errors import ConfigError, DataError
from robustmsa.fileio import atomic_write

log = logging.getLogger(__name__)

CARD_FILE = "card.json"
CARD_MD = "MODEL_CARD.md"
MODEL_FILE = "model.pt"


@dataclass(frozen=True)
class Stage:
    """One training run of a recipe: its name, method and config overrides."""

    name: str
    method: str
    overrides: tuple[str, ...]
    teacher: str = ""  # name of an earlier stage whose best.pt is this stage's teacher


@dataclass(frozen=True)
class Recipe:
    """How a zoo model is built (see the module docstring)."""

    name: str
    summary: str
    kind: str  # "text" (transcripts only) or "clips" (MMSA-FET clip folder)
    stages: tuple[Stage, ...]
    conditions: tuple[str, ...]  # test conditions in the card
    limits: tuple[str, ...] = field(default=())


_TEXT = ("task.kind=regression", "train.select_metric=MAE")
_TEXT_LIMITS = (
    "Text only: audio and video are ignored; a clip without a transcript gets no real "
    "prediction (every input modality is missing, the output is the model's bias).",
    "No speech recognition: the transcript must be given (typed, a .txt file or a CSV).",
    "Frozen MiniLM-L6 encoder (English, 384-d word pieces, at most 128 per transcript).",
)
RECIPES: dict[str, Recipe] = {
    "text-mosi": Recipe(
        "text-mosi",
        "text-only regression on CMU-MOSI transcripts (MiniLM tokens -> teacher backbone)",
        "text",
        (Stage("text", "teacher", (*_TEXT, "train.epochs=30")),),
        ("complete",),
        _TEXT_LIMITS + (
            "Trained on CMU-MOSI (English YouTube movie-review monologues, sentiment -3..3); "
            "other domains and languages are untested.",
        ),
    ),
    "text-mosei": Recipe(
        "text-mosei",
        "text-only regression on CMU-MOSEI transcripts (MiniLM tokens -> teacher backbone)",
        "text",
        (Stage("text", "teacher", (*_TEXT, "train.epochs=12")),),
        ("complete",),
        _TEXT_LIMITS + (
            "Trained on CMU-MOSEI (English YouTube monologues on many topics, sentiment "
            "-3..3); other languages are untested.",
        ),
    ),
    "clips": Recipe(
        "clips",
        "text + audio + vision CorrKD student (distilled from a complete-input teacher) on an "
        "MMSA-FET clip folder",
        "clips",
        (
            Stage("teacher", "teacher", ("task.kind=sentiment7",)),
            Stage("corrkd", "corrkd", ("task.kind=sentiment7",), teacher="teacher"),
        ),
        ("complete", "t", "a", "v", "ta", "tv", "av"),
        (
            "Quality depends entirely on the clips it was built from: the test metrics in this "
            "card come from the test rows of that label file only.",
            "Audio: MFCC + log filterbank (python_speech_features); vision: MediaPipe FaceMesh "
            "landmarks of one face; text: frozen MiniLM-L6 (English). No speech recognition.",
            "7-class sentiment task: the score is the expected class centre on -3..3.",
        ),
    ),
}


def zoo_root(root: str | os.PathLike | None = None) -> Path:
    """Where built models live: ``root``, else ``$ROBUSTMSA_HOME/zoo``, else
    ``~/.cache/robustmsa/zoo`` (the variable is only read)."""
    if root is not None:
        return Path(root).expanduser()
    home = os.environ.get("ROBUSTMSA_HOME")
    if home:
        return Path(home).expanduser() / "zoo"
    return Path.home() / ".cache" / "robustmsa" / "zoo"


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ConfigError(f"unknown zoo recipe {name!r}; valid: {', '.join(RECIPES)}")
    return RECIPES[name]


def model_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """``model.pt`` of the built model ``name``; a one-line error when it is not built."""
    p = zoo_root(root) / name / MODEL_FILE
    if not p.is_file():
        hint = f"robustmsa zoo build {name} --labels LABEL.csv" if name in RECIPES else (
            f"recipes: {', '.join(RECIPES)}")
        raise ConfigError(f"model {name!r} is not built under {zoo_root(root)} (run: {hint})")
    return p


def read_card(path: str | os.PathLike) -> dict[str, Any] | None:
    """The model card of a checkpoint (``card.json`` in its folder), or None."""
    p = Path(path)
    card = p if p.name == CARD_FILE else p.parent / CARD_FILE
    if not card.is_file():
        return None
    try:
        return json.loads(card.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"{card}: unreadable model card ({e})") from None


def split_of(checkpoint: str | os.PathLike, clip_id: str) -> str | None:
    """``"train"`` / ``"valid"`` when the model card lists ``clip_id`` there, else None."""
    card = read_card(checkpoint) if str(checkpoint) else None
    if not card:
        return None
    for split in ("train", "valid"):
        if clip_id in set(card.get(f"{split}_ids") or ()):
            return split
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    atomic_write(path, (json.dumps(obj, indent=1) + "\n").encode())


def _extract(recipe: Recipe, labels: Path, media: Path | None, out: Path, pipeline, progress):
    from robustmsa.media.extract_dataset import extract_dataset, extract_text_dataset

    if out.exists():
        log.info("reusing features %s", out)
        return None
    if recipe.kind == "text":
        return extract_text_dataset(labels, out, pipeline=pipeline, progress=progress)
    return extract_dataset(labels, out, media_root=media, pipeline=pipeline, progress=progress)


def _train(stage: Stage, data_path: Path, data, work: Path, seed: int, extra: Sequence[str],
           progress: bool = True):
    from robustmsa.config import load_config
    from robustmsa.engine.trainer import train

    run = work / stage.name
    summary = run / "summary.json"
    if summary.is_file() and (run / "best.pt").is_file():
        log.info("reusing finished run %s", run)
        return run, json.loads(summary.read_text())
    ov = [f"method={stage.method}", f"data.source={data_path}", f"seed={seed}",
          f"name={stage.name}", *stage.overrides, *([] if progress else ["train.progress=false"]),
          *extra]
    if stage.teacher:
        ov.append(f"teacher={work / stage.teacher / 'best.pt'}")
    res = train(load_config(None, ov), run, data=data)
    return run, {"best_epoch": res.best_epoch, "epochs_run": res.epochs_run,
                 "seconds_per_epoch": res.seconds_per_epoch}


def build(
    name: str,
    labels: str | os.PathLike,
    *,
    media: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    seed: int = 0,
    overrides: Sequence[str] = (),
    force: bool = False,
    keep_work: bool = False,
    pipeline: Any = None,
    progress: bool = True,
    say=print,
) -> Path:
    """Build the zoo model ``name`` from ``labels`` (and ``media``); returns its folder.

    Args:
        labels: MMSA-style ``label.csv`` (``id|video_id,clip_id, text, label, mode``).
        media: clip folder of the ``clips`` recipe (default: the folder of ``labels``).
        root: zoo folder (see `zoo_root`).
        overrides: extra ``key=value`` config overrides for every stage (e.g. tiny tests).
        force: rebuild even when the model exists; keep_work: keep features and runs.
        pipeline: a `MediaPipeline` to reuse (models loaded once).
        say: where progress lines go.
    """
    recipe = get_recipe(name)
    labels = Path(labels)
    if not labels.is_file():
        raise DataError(f"{labels}: label file not found")
    dest = zoo_root(root) / name
    if (dest / MODEL_FILE).is_file() and not force:
        say(f"{name} is already built: {dest / MODEL_FILE} (use --force to rebuild)")
        return dest
    media_dir = Path(media) if media is not None else labels.parent
    if recipe.kind == "text" and media is not None:
        raise ConfigError(f"recipe {name!r} uses transcripts only: --media is not used")
    work = dest / "work"
    # an interrupted build resumes from work/ (features, finished runs) only for the same inputs
    key = f"{name} {_sha256(labels)} {media_dir.resolve() if recipe.kind == 'clips' else ''} " \
          f"{seed} {' '.join(overrides)}"
    if work.is_dir() and (work / "inputs.txt").is_file() and \
            (work / "inputs.txt").read_text() != key:
        log.info("inputs changed since the interrupted build in %s: starting afresh", work)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    atomic_write(work / "inputs.txt", key.encode())
    n_steps = 2 + len(recipe.stages)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    what = (f"encode the transcripts of {labels}" if recipe.kind == "text" else
            f"extract text/audio/vision features of the clips of {labels} found in {media_dir}")
    say(f"[1/{n_steps}] {what}")
    features = work / "features.npz"
    rep = _extract(recipe, labels, media_dir, features, pipeline, progress)
    times["features"] = time.perf_counter() - t0

    from robustmsa.data.schema import load_dataset

    data = load_dataset(features)
    absent = [s for s in ("train", "valid", "test") if s not in data.splits]
    if absent:
        have = ", ".join(f"{s} {len(data[s])}" for s in data.splits)
        raise DataError(f"{labels}: recipe {name!r} needs train, valid and test clips; the "
                        f"extracted data has {have} (no {', '.join(absent)})")
    runs: dict[str, dict] = {}
    run = work
    for i, stage in enumerate(recipe.stages, start=2):
        say(f"[{i}/{n_steps}] train {stage.method} ({stage.name}) on {len(data['train'])} clips, "
            f"selected on {len(data['valid'])} validation clips")
        t = time.perf_counter()
        run, runs[stage.name] = _train(stage, features, data, work, seed, overrides, progress)
        times[f"train_{stage.name}"] = time.perf_counter() - t
    say(f"[{n_steps}/{n_steps}] evaluate on {len(data['test'])} test clips")
    t = time.perf_counter()
    metrics = _test_metrics(run / "best.pt", features, recipe.conditions, work)
    times["evaluate"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0

    shutil.copyfile(run / "best.pt", dest / f".{MODEL_FILE}.tmp")
    os.replace(dest / f".{MODEL_FILE}.tmp", dest / MODEL_FILE)
    card = _card(recipe, labels, media_dir, data, rep, runs, metrics, times, seed, overrides)
    _write_json(dest / CARD_FILE, card)
    atomic_write(dest / CARD_MD, render_card(card).encode())
    logs = dest / "training"
    for stage in recipe.stages:
        for f in ("config.yaml", "summary.json", "metrics.jsonl"):
            src = work / stage.name / f
            if src.is_file():
                (logs / stage.name).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, logs / stage.name / f)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    say(f"built {name} in {times['total']:.0f} s: {dest / MODEL_FILE} (card: {dest / CARD_MD})")
    return dest


def _test_metrics(ckpt: Path, features: Path, conditions: Sequence[str],
                  work: Path) -> dict[str, dict[str, float]]:
    """MMSA metrics (``mosi`` convention) of the model's test-split scores per condition, with
    the masks `robustmsa evaluate` uses (mask seed 0)."""
    import numpy as np

    from robustmsa.evaluation.predictions import predict_to_file
    from robustmsa.metrics import score

    out: dict[str, dict[str, float]] = {}
    for c in conditions:
        path, _ = predict_to_file(str(ckpt), str(features), split="test", condition=c,
                                  mask_seed=0, out=work / f"test_{c}.npz")
        with np.load(path, allow_pickle=False) as z:
            mm = score(z["score"].astype(np.float64), z["label"].astype(np.float64), "mosi")
        out[c] = {k: float(v) for k, v in mm.items() if isinstance(v, float)}
    return out


def _card(recipe, labels, media_dir, data, rep, runs, metrics, times, seed, overrides) -> dict:
    from robustmsa import __version__

    info = data.info
    return {
        "name": recipe.name,
        "summary": recipe.summary,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "robustmsa_version": __version__,
        "model": {
            "file": MODEL_FILE,
            "method": recipe.stages[-1].method,
            "stages": [{"name": s.name, "method": s.method, "overrides": list(s.overrides),
                        "teacher": s.teacher or None, **runs.get(s.name, {})}
                       for s in recipe.stages],
            "modalities": list(info.modalities),
            "feature_dims": dict(info.dims),
            "score_range": list(info.score_range),
            "seed": seed,
            "extra_overrides": list(overrides),
        },
        "data": {
            "labels": str(labels.resolve()),
            "labels_sha256": _sha256(labels),
            "media": str(media_dir.resolve()) if recipe.kind == "clips" else None,
            "split": "the label file's 'mode' column (train / valid|dev / test)",
            "clips": {s: len(data[s]) for s in data.splits},
            "failed_clips": getattr(rep, "n_failed", None),
            "clips_without_media": getattr(rep, "n_no_media", None),
            "missing_per_modality": getattr(rep, "missing", None),
        },
        "metrics": {"split": "test", "n": len(data["test"]), "mask_seed": 0,
                    "conditions": metrics},
        "selection": "best epoch on the valid split only",
        "known_limits": [*recipe.limits,
                         "Clips whose ids are in train_ids / valid_ids were seen while building "
                         "the model: their scores are not held-out estimates."],
        "timings_s": {k: round(v, 1) for k, v in times.items()},
        "train_ids": [str(i) for i in data["train"].ids],
        "valid_ids": [str(i) for i in data["valid"].ids],
    }


_SHOW = ("MAE", "Corr", "Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score",
         "Mult_acc_5", "Mult_acc_7")


def render_card(card: dict) -> str:
    """``MODEL_CARD.md`` text of a card."""
    m, d = card["model"], card["data"]
    lines = [f"# Model card: {card['name']}", "", card["summary"] + ".", "",
             f"Built {card['created']} by robustmsa {card['robustmsa_version']}; "
             f"`{m['file']}` next to this file.", "", "## Data", "",
             f"- labels: `{d['labels']}` (sha256 {d['labels_sha256'][:16]}…)"]
    if d.get("media"):
        lines.append(f"- clips: `{d['media']}`; failed {d['failed_clips']}, without a media file "
                     f"{d['clips_without_media']}; missing per modality "
                     f"{d['missing_per_modality']}")
    lines += [f"- split: {d['split']}: " + ", ".join(f"{k} {v}" for k, v in d["clips"].items()),
              f"- training ids: `train_ids` / `valid_ids` in `{CARD_FILE}`", "", "## Model", "",
              f"- modalities used: {', '.join(m['modalities'])} (feature widths "
              + ", ".join(f"{k} {v}" for k, v in m["feature_dims"].items()) + ")",
              f"- score range {m['score_range'][0]:g} to {m['score_range'][1]:g}; seed {m['seed']}"]
    for s in m["stages"]:
        lines.append(f"- stage `{s['name']}`: method `{s['method']}` "
                     f"({' '.join(s['overrides']) or 'defaults'}), best epoch "
                     f"{s.get('best_epoch', 0) + 1} of {s.get('epochs_run')} run, "
                     f"{s.get('seconds_per_epoch', 0):.1f} s/epoch")
    mt = card["metrics"]
    conds = mt["conditions"]
    cols = [k for k in _SHOW if any(k in v for v in conds.values())]
    lines += ["", f"## Metrics on the test split ({mt['n']} clips; {card['selection']})", "",
              "| condition | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for c, vals in conds.items():
        lines.append(f"| {c} | " + " | ".join(
            f"{vals[k]:.3f}" if k in vals and vals[k] == vals[k] else "–" for k in cols) + " |")
    lines += ["", "Letters = modalities given (t text, a audio, v vision); MAE lower is better, "
              "the others higher; Acc/F1 as fractions (MMSA's names: Has0 counts 0 as positive, Non0 drops "
              "zero labels).", "", "## Known limits", ""]
    lines += [f"- {x}" for x in card["known_limits"]]
    lines += ["", "Build time: " + ", ".join(f"{k} {v:g} s" for k, v in card["timings_s"].items())
              + ".", ""]
    return "\n".join(lines)


def built_models(root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """(name, folder) of every built model under the zoo root."""
    base = zoo_root(root)
    if not base.is_dir():
        return []
    return sorted((p.name, p) for p in base.iterdir() if (p / MODEL_FILE).is_file())


def resolve_checkpoint(checkpoint: str | None, model: str | None,
                       root: str | os.PathLike | None = None) -> str:
    """The checkpoint path of ``--checkpoint`` or of the built zoo model ``--model``."""
    if checkpoint and model:
        raise ConfigError("give --checkpoint or --model, not both")
    if model:
        return str(model_path(model, root))
    if not checkpoint:
        raise ConfigError("give --checkpoint CKPT or --model NAME (a model built by "
                          "`robustmsa zoo build`)")
    return checkpoint
