"""Command-line interface: ``robustmsa <command> ...``.

Each subcommand lives in `robustmsa.commands.<name>` with ``add_parser(subparsers)`` that
registers it and sets ``func`` — a thin call into the public API. Errors caused by user input
(`RobustMSAError`) and refusals of the environment (`OSError`: disk full, permission denied)
are printed as one line naming the file/field, with exit status 2 (``-v`` shows the traceback
of an `OSError`). Usage errors of the command line itself are argparse's, also exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import NoReturn

from robustmsa import __version__
from robustmsa.errors import RobustMSAError

COMMAND_MODULES: tuple[str, ...] = (
    "data", "score", "train", "evaluate", "predict", "benchmark", "extract", "list_cmd", "zoo",
    "serve",
)


class OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors as one line (``robustmsa CMD: error: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} "
                     f"(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="robustmsa",
        description="Multimodal sentiment analysis robust to missing modalities.",
    )
    parser.add_argument("--version", action="version", version=f"robustmsa {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"robustmsa.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 path in a message must not crash it
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", "") == "strict":
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        rc = args.func(args)
    except RobustMSAError as e:
        print(f"robustmsa {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # the environment refused (disk full, permissions): say where, in one line
        if args.verbose:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"robustmsa {args.command}: error: {where}{e.strerror or _one_line(e)}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


def _one_line(e: BaseException) -> str:
    """The message on one line (a wrapped library message can carry newlines)."""
    return " ".join(str(e).split())
