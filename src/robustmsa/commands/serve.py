"""``robustmsa serve``: a local web page that scores a clip (needs the ``web`` extra)."""

from __future__ import annotations

import argparse

from robustmsa.commands.args import add_clip_args, add_model_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="local web page: upload a clip and/or a transcript, get the sentiment",
        description="Serve a page (Gradio; pip install 'robustmsa[web]') where a video or audio "
        "file and/or a transcript give the score, polarity, the modality report of `robustmsa "
        "predict` and timings. Binds to 127.0.0.1 unless --host says otherwise; uploads are "
        "size-limited, kept in a private temporary folder and deleted after each prediction. "
        "Example: robustmsa serve --model text-mosi",
    )
    add_model_args(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--max-file-mb", type=float, default=200.0,
                   help="largest accepted upload in MB (default 200)")
    add_clip_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import signal

    from robustmsa.web import serve
    from robustmsa.zoo import resolve_checkpoint

    ckpt = resolve_checkpoint(args.checkpoint, args.model, args.root)

    def _stop(signum, frame):  # SIGTERM stops the server like Ctrl-C (temp folder removed)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, _stop)
    try:
        serve(ckpt, host=args.host, port=args.port, max_file_mb=args.max_file_mb,
              band=args.neutral_band, text_model=args.text_model)
    finally:
        signal.signal(signal.SIGTERM, old)
    return 0
