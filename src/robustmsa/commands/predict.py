"""``robustmsa predict``: predictions from a checkpoint, on a dataset split or a raw clip."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="predict with a trained checkpoint",
        description="Either --data FILE --split test [--condition ta --mask-seed 7] --out preds.npz "
        "(same masks as `evaluate` for the same seed and condition), or a raw clip: "
        "--video clip.mp4 | --audio clip.wav | --transcript TEXT|FILE [--timings FILE] [--json] "
        "(any combination; the modalities not given are reported missing).",
    )
    p.add_argument("--checkpoint", "-c", required=True)
    p.add_argument("--data", help="dataset path or name")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--condition", default="complete", help="missing-modality condition")
    p.add_argument("--mask-seed", type=int, default=0)
    p.add_argument("--out", help="output .npz with pred, truth, score, label, id (scored by "
                   "`robustmsa score FILE --convention classification|mosi`)")
    p.add_argument("--video", help="raw video file (mp4, ...)")
    p.add_argument("--audio", help="raw audio file (wav, ...)")
    p.add_argument("--transcript", help="transcript text (a single word that looks like a "
                   "file name, e.g. notes.txt, must be an existing file)")
    p.add_argument("--transcript-file", metavar="FILE", help="UTF-8 text file holding the "
                   "transcript")
    p.add_argument("--timings", help="word timings file ('start end word' lines or JSON); "
                   "needed by models trained on word-aligned features")
    p.add_argument("--text-model", metavar="PATH", default=None,
                   help="local Hugging Face encoder folder to use instead of the one recorded in "
                   "the checkpoint (must produce the same features)")
    p.add_argument("--json", action="store_true", help="print JSON (raw-clip mode)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from robustmsa.errors import ConfigError

    raw = (args.video, args.audio, args.transcript, args.transcript_file, args.timings)
    if any(x is not None for x in raw):
        if args.data:
            raise ConfigError("give either --data (dataset mode) or raw inputs "
                              "(--video/--audio/--transcript/--timings), not both")
        from robustmsa.media.predict import (
            format_prediction,
            predict_media,
            read_transcript_file,
            resolve_transcript,
        )

        if args.transcript is not None and args.transcript_file is not None:
            raise ConfigError("give --transcript TEXT or --transcript-file FILE, not both")
        transcript = (read_transcript_file(args.transcript_file)
                      if args.transcript_file is not None else resolve_transcript(args.transcript))
        res = predict_media(args.checkpoint, video=args.video, audio=args.audio,
                            transcript=transcript, timings=args.timings,
                            text_model=args.text_model)
        print(json.dumps(res, indent=2) if args.json else format_prediction(res))
        return 0
    if not args.data or not args.out:
        raise ConfigError("give --data and --out (dataset mode) or --video/--audio/--transcript "
                          "(raw clip)")
    from robustmsa.evaluation.predictions import predict_to_file

    path, n = predict_to_file(args.checkpoint, args.data, split=args.split,
                              condition=args.condition, mask_seed=args.mask_seed, out=args.out)
    print(f"wrote {n} predictions to {path}")
    return 0
