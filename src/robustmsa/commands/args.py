"""Argument groups shared by several commands (argparse only: keeps ``--help`` import-free)."""

from __future__ import annotations

import argparse


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Which model: ``--checkpoint/-c CKPT`` or ``--model/-m NAME`` (a built zoo model) with
    its ``--root``; `robustmsa.zoo.resolve_checkpoint` decides between them."""
    p.add_argument("--checkpoint", "-c", help="checkpoint (best.pt)")
    p.add_argument("--model", "-m", metavar="NAME", help="a model built by `robustmsa zoo build`")
    p.add_argument("--root", default=None, help="zoo folder of --model (default: "
                   "$ROBUSTMSA_HOME/zoo or ~/.cache/robustmsa/zoo)")


def add_clip_args(p: argparse.ArgumentParser) -> None:
    """How a raw clip is scored: ``--neutral-band B`` and ``--text-model PATH``."""
    p.add_argument("--neutral-band", type=float, default=None, metavar="B",
                   help="call |score| <= B neutral (default: max|score range| / 6 = 0.5 on "
                   "-3..3, the scores Acc-7 bins as 0)")
    p.add_argument("--text-model", metavar="PATH", default=None,
                   help="local Hugging Face encoder folder to use instead of the one recorded in "
                   "the checkpoint (must produce the same features)")
