"""Argument parsing and error reporting for every verb; each verb lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from startpoints import __version__
from startpoints.errors import InvalidStartPoint, StartpointsError

KINDS = ("languages", "custom", "exercises")
# in the order `startpoints --help` lists them; each is cli/<verb>.py with an add(verbs)
VERBS = (
    "lint",
    "publish",
    "assemble",
    "create",
    "serve",
    "pull",
    "k8s",
    "inspect",
    "update",
    "diff",
)
INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug, as distinct from 1, "problems found" (README)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(argv[:1])
    # create's words are positional flags (cyber-dojo's grammar), not options to parse.
    args = (
        argparse.Namespace(run=_create, words=argv[1:])
        if argv[:1] == ["create"]
        else parser.parse_args(argv)
    )
    # SIGTERM unwinds like Ctrl-C, so staging folders are removed (serve's server sets its own).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return int(args.run(args))
    except InvalidStartPoint as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"startpoints: error: {error}", file=sys.stderr)
        return 1
    except StartpointsError as error:
        print(f"startpoints: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (`| head`): no traceback, as a shell tool does
        sys.stderr.close()  # nothing more can be said; Python's own flush at exit stays quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it
    except Exception as error:  # a bug of ours, not bad input: say so in one line
        if os.environ.get("STARTPOINTS_DEBUG"):
            raise
        print(
            f"startpoints: internal error: {type(error).__name__}: {str(error)[:200]} "
            "(STARTPOINTS_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


def _terminated(_signal: int, _frame: object) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def _create(args: argparse.Namespace) -> int:
    from startpoints.cli import create

    return create.run(args)


def _parser(first: list[str]) -> argparse.ArgumentParser:
    """The parser for the verb named first, alone (building all ten verbs' parsers cost
    `startpoints lint --help` 81 ms against 55 ms; docs/benchmarks.md), none for --version;
    all of them for --help, a mistyped verb or none."""
    parser = argparse.ArgumentParser(
        prog="startpoints",
        description="Publish, assemble, serve and pre-pull cyber-dojo start points as OCI images.",
    )
    parser.add_argument("--version", action="version", version=f"startpoints {__version__}")
    verbs = parser.add_subparsers(required=True, metavar="COMMAND")
    wanted = VERBS if not first else () if first == ["--version"] else first
    for verb in wanted if set(wanted) <= set(VERBS) else VERBS:
        importlib.import_module(f"startpoints.cli.{verb}").add(verbs)
    return parser
