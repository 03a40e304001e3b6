"""`robustmsa extract`: raw clips (or transcripts only) + label.csv -> a robustmsa dataset.

Examples::

    robustmsa extract --labels data/MOSI/label.csv --out data/mosi_raw.npz
    robustmsa extract --labels ../shared/labels/mosi_label.csv --text-only --out data/mosi_text.npz
"""

from __future__ import annotations

import argparse

from robustmsa.errors import ConfigError

# kept here (not imported from robustmsa.types, which loads torch) so --help stays fast
MODALITIES: tuple[str, ...] = ("text", "audio", "vision")


def _max_len(items: list[str] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items or []:
        m, sep, n = it.partition("=")
        if not sep or m not in MODALITIES or not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--max-len {it!r}: expected MODALITY=N with N >= 1, e.g. text=50")
        out[m] = int(n)
    return out


def _modalities(text: str) -> tuple[str, ...]:
    mods = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        raise ConfigError(f"--modalities {text!r}: choose from {', '.join(MODALITIES)}")
    return tuple(m for m in MODALITIES if m in mods)


def run(args: argparse.Namespace) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from robustmsa.media.extract_dataset import extract_dataset, extract_text_dataset
    from robustmsa.media.pipeline import MediaPipeline

    mods = ("text",) if args.text_only else _modalities(args.modalities)
    options = {
        "text": {
            "text_model": args.text_model,
            "max_tokens": args.max_tokens,
            "batch_size": args.batch_size,
        },
        "audio": {"rate_hz": args.audio_rate},
        "vision": {"fps": args.fps, "max_side": args.max_side},
    }
    if args.timings and args.text_only:
        raise ConfigError("--timings aligns audio/vision to words: not with --text-only")
    pipeline = MediaPipeline.default(
        mods,
        names={"audio": args.audio_extractor},
        options={m: options[m] for m in mods},
        align="words" if args.timings else None,
    )
    common = dict(
        pad=args.pad,
        max_len=_max_len(args.max_len),
        limit=args.limit,
        name=args.name,
        progress=not args.no_progress,
    )
    # log lines are printed above the progress bar instead of breaking it
    with logging_redirect_tqdm():
        try:
            if args.text_only:
                rep = extract_text_dataset(args.labels, args.out, pipeline=pipeline, **common)
            else:
                rep = extract_dataset(
                    args.labels,
                    args.out,
                    media_root=args.media,
                    pipeline=pipeline,
                    work_dir=args.work_dir,
                    timings_dir=args.timings,
                    **common,
                )
        finally:
            pipeline.close()
    msg = f"wrote {rep.out} (+ .json): {rep.n_ok}/{rep.n_rows} clips"
    if not args.text_only:
        msg += f", {rep.n_cached} from cache, {rep.n_failed} failed"
        if rep.n_no_media:
            msg += f", {rep.n_no_media} without a media file in the folder"
        if rep.n_failed or rep.n_no_media:
            msg += f" (ids and reasons in {rep.failures})"
    msg += "; missing per modality: " + ", ".join(f"{m} {n}" for m, n in rep.missing.items())
    print(msg)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="extract text/audio/vision features from raw clips into a dataset file",
        description=(
            "Build a dataset (.npz + .json) from a label.csv (video_id, clip_id, text, label, "
            "mode; or id, text, label, mode) and its clips at MEDIA/Raw/{video_id}/{clip_id}.mp4, "
            "MEDIA/{video_id}/{clip_id}.mp4 or MEDIA/{video_id}_{clip_id}.mp4, fully offline; "
            "label rows without a clip in MEDIA are skipped. Resumable: per-clip results are "
            "cached in --work-dir; failing clips are skipped and listed in failures.jsonl there."
        ),
    )
    p.add_argument("--labels", required=True, help="label.csv (MMSA-FET layout)")
    p.add_argument("--out", required=True, help="output dataset path (.npz; .json next to it)")
    p.add_argument(
        "--media", default=None, help="folder holding the clips (default: the folder of --labels)"
    )
    p.add_argument("--work-dir", default=None, help="per-clip cache (default: OUT.parts)")
    p.add_argument(
        "--text-only", action="store_true", help="encode only the transcripts (no media needed)"
    )
    p.add_argument(
        "--modalities",
        default="text,audio,vision",
        help="modalities to extract (default: text,audio,vision)",
    )
    p.add_argument(
        "--text-model",
        default=None,
        metavar="PATH",
        help="local Hugging Face encoder folder (default: bundled MiniLM, 384-d)",
    )
    p.add_argument("--max-tokens", type=int, default=128, help="truncate transcripts (word pieces)")
    p.add_argument("--batch-size", type=int, default=64, help="text encoder batch size")
    p.add_argument(
        "--audio-extractor",
        default="psf",
        choices=("psf", "egemaps"),
        help="psf (MIT, 41-d) or egemaps (needs opensmile; research-only licence)",
    )
    p.add_argument(
        "--audio-rate",
        type=float,
        default=100.0,
        help="audio frames per second (100, or a divisor of it: 50, 25, 20, 10)",
    )
    p.add_argument("--fps", type=float, default=10.0, help="video frames sampled per second")
    p.add_argument(
        "--max-side", type=int, default=1280, help="downscale frames to this longer side"
    )
    p.add_argument(
        "--pad",
        default="mean3std",
        choices=("mean3std", "max"),
        help="padded length per modality: mean+3*std of the lengths (as MMSA-FET) or the maximum",
    )
    p.add_argument(
        "--max-len",
        action="append",
        metavar="MOD=N",
        help="fixed padded length of a modality, e.g. --max-len text=50 (repeatable)",
    )
    p.add_argument(
        "--timings",
        metavar="DIR",
        default=None,
        help="folder of word timings files {id}.json|.tsv|.csv|.txt ('start end word' lines or "
        "JSON): every modality is then aligned to words (one row per word)",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N rows of each split")
    p.add_argument("--name", default=None, help="dataset name (default: output file stem)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
