"""``robustmsa predict``: predictions from a trained checkpoint (or a built zoo model), on a
dataset split, one raw clip, or a whole folder of clips."""

from __future__ import annotations

import argparse
import json

from robustmsa.commands.args import add_clip_args, add_model_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="predict with a trained checkpoint or a built model",
        description="Three modes. Dataset: --data FILE --split test [--condition ta "
        "--mask-seed 7] --out preds.npz (same masks as `evaluate` for the same seed and "
        "condition). One raw clip: --video clip.mp4 | --audio clip.wav | --transcript TEXT|FILE "
        "[--timings FILE] [--json] (any combination; the modalities not given are reported "
        "missing). A folder: --media-dir DIR [--transcripts FILE.csv] --out preds.csv|.jsonl "
        "(DIR/Raw/{video_id}/{clip_id}.mp4 or flat DIR/{video_id}_{clip}.mp4; one row per clip, "
        "a failing clip never stops the rest). The model is --checkpoint CKPT or --model NAME "
        "(built by `robustmsa zoo build NAME`).",
    )
    add_model_args(p)
    p.add_argument("--data", help="dataset path or name")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--condition", default="complete", help="missing-modality condition")
    p.add_argument("--mask-seed", type=int, default=0)
    p.add_argument("--out", help="dataset mode: output .npz with pred, truth, score, label, id "
                   "(scored by `robustmsa score FILE --convention classification|mosi`); folder "
                   "mode: .csv or .jsonl, one row per clip")
    p.add_argument("--video", help="raw video file (mp4, ...)")
    p.add_argument("--audio", help="raw audio file (wav, ...)")
    p.add_argument("--transcript", help="transcript text (a single word that looks like a "
                   "file name, e.g. notes.txt, must be an existing file)")
    p.add_argument("--transcript-file", metavar="FILE", help="UTF-8 text file holding the "
                   "transcript")
    p.add_argument("--timings", help="word timings file ('start end word' lines or JSON); "
                   "needed by models trained on word-aligned features")
    p.add_argument("--media-dir", metavar="DIR", help="predict every clip of this folder")
    p.add_argument("--transcripts", metavar="FILE.csv", help="transcripts by clip id: columns "
                   "id,text or video_id,clip_id,text (an MMSA label.csv works); without an entry "
                   "a clip uses a {stem}.txt next to it, else its text is missing")
    p.add_argument("--id", dest="clip_id", default=None,
                   help="clip id of a single clip (default: the file name's stem); checked "
                   "against the model card's training ids")
    add_clip_args(p)
    p.add_argument("--no-progress", action="store_true", help="folder mode: no progress bar")
    p.add_argument("--json", action="store_true", help="print JSON (raw-clip mode)")
    p.set_defaults(func=run)


def _folder(args: argparse.Namespace, ckpt: str) -> int:
    from robustmsa.errors import ConfigError
    from robustmsa.media.batch import predict_dir

    if not args.out:
        raise ConfigError("--media-dir needs --out preds.csv (or .jsonl)")
    rows = predict_dir(ckpt, args.media_dir, transcripts=args.transcripts, out=args.out,
                       text_model=args.text_model, band=args.neutral_band,
                       progress=not args.no_progress)
    failed = sum(1 for r in rows if r["error"])
    empty = sum(1 for r in rows if not r["error"] and not r["used"])
    seen = sum(1 for r in rows if r["model_split"])
    msg = f"wrote {len(rows)} rows to {args.out}: {len(rows) - failed} predicted, {failed} failed"
    if empty:
        msg += (f", {empty} with no usable modality of the model (no score; see the reason "
                "column)")
    if seen:
        msg += f"; {seen} clips are in the model's own training/validation split (model_split)"
    print(msg)
    return 0


def run(args: argparse.Namespace) -> int:
    from robustmsa.errors import ConfigError
    from robustmsa.zoo import resolve_checkpoint

    ckpt = resolve_checkpoint(args.checkpoint, args.model, args.root)
    raw = (args.video, args.audio, args.transcript, args.transcript_file, args.timings)
    if args.media_dir:
        if args.data or any(x is not None for x in raw):
            raise ConfigError("--media-dir predicts a folder: not with --data, --video, --audio, "
                              "--transcript(-file) or --timings")
        return _folder(args, ckpt)
    if any(x is not None for x in raw):
        if args.data:
            raise ConfigError("give either --data (dataset mode) or raw inputs "
                              "(--video/--audio/--transcript/--timings), not both")
        from robustmsa.media.predict import (
            clip_id_of,
            format_prediction,
            predict_media,
            read_transcript_file,
            resolve_transcript,
        )

        if args.transcript is not None and args.transcript_file is not None:
            raise ConfigError("give --transcript TEXT or --transcript-file FILE, not both")
        cid = args.clip_id or clip_id_of(args.video, args.audio)
        transcript = (read_transcript_file(args.transcript_file)
                      if args.transcript_file is not None else resolve_transcript(args.transcript))
        if transcript is None and args.transcripts and cid:
            from robustmsa.media.batch import read_transcripts

            transcript = read_transcripts(args.transcripts).get(cid)
        res = predict_media(ckpt, video=args.video, audio=args.audio,
                            transcript=transcript, timings=args.timings,
                            text_model=args.text_model, clip_id=cid, band=args.neutral_band)
        print(json.dumps(res, indent=2) if args.json else format_prediction(res))
        return 0
    if not args.data or not args.out:
        raise ConfigError("give --data and --out (dataset mode), --video/--audio/--transcript "
                          "(raw clip) or --media-dir DIR --out preds.csv (folder)")
    from robustmsa.evaluation.predictions import predict_to_file

    path, n = predict_to_file(ckpt, args.data, split=args.split,
                              condition=args.condition, mask_seed=args.mask_seed, out=args.out)
    print(f"wrote {n} predictions to {path}")
    return 0
