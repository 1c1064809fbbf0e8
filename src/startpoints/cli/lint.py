"""`startpoints lint PATH... [--kind K]`: check start point folders, listing every problem."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from startpoints.cli import common


def add(verbs: Any) -> None:
    parser = common.add_verb(
        verbs,
        "lint",
        help="check start point folders (or trees holding them) against cyber-dojo's rules",
        example="startpoints lint start_point",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a start point folder, or a tree of them",
    )
    common.add_kind_option(parser, "the rules of which kind of start point")
    parser.add_argument("--json", action="store_true", help="print the problems as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from startpoints.core.lint import lint

    report = lint(args.paths, args.kind)
    if args.json:
        print(
            json.dumps(
                {
                    "start_points": len(report.entries),
                    "problems": [p.as_json() for p in report.problems],
                },
                allow_nan=False,
            )
        )
    else:
        for problem in report.problems:
            print(problem)
    from startpoints.core import words

    checked = f"{words.count(len(report.entries), 'start point')} checked ({args.kind})"
    print(f"{checked}, {words.count(len(report.problems), 'problem')}", file=sys.stderr)
    return 1 if report.problems else 0
