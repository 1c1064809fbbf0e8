"""`startpoints update LIST [--migrate [REGISTRY]] [--check] [--json]`: pin each start-point
image line of LIST to the newest published start point of its language repo, and with
--migrate each `sha7@git-url` line whose commit is published to its start-point image
(workflows/update.py), rewriting LIST in place, or, with --check, changing nothing and exiting 1
when a line is behind (for CI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from startpoints.cli import common


def add(verbs: Any) -> None:
    parser = common.add_verb(
        verbs,
        "update",
        help="pin each start-point image line of a list to its newest published start point",
        example="startpoints update examples/start-points.txt --check",
    )
    parser.add_argument(
        "list", type=Path, metavar="LIST", help="a list as assemble --from reads it"
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when a line is behind"
    )
    parser.add_argument(
        "--migrate",
        nargs="?",
        const="ghcr.io",
        metavar="REGISTRY",
        help="also replace each sha7@https://HOST/OWNER/REPO line whose commit is published as "
        "REGISTRY/owner/repo:sha7 (default ghcr.io) by that image, pinned; others are kept",
    )
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")
    common.add_registry_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os
    import tempfile

    from startpoints.errors import StartpointsError
    from startpoints.workflows import update

    try:
        text = args.list.read_text()
    except OSError as error:
        raise StartpointsError(f"{args.list}: {error.strerror}") from None
    result = update.update(text, common.stores(args), say=common.say, migrate_to=args.migrate)
    for change in result.changes:
        what = "published" if change.migrated else "newer" if change.behind else "pinned"
        print(f"{args.list}:{change.line}: {what}: {change.old} -> {change.new}", file=sys.stderr)
    if args.json:
        print(update.as_json(result))
    if args.check:
        return 1 if result.behind else 0
    if result.changes:  # replaced whole, by rename: never a half-written list
        fd, tmp = tempfile.mkstemp(dir=args.list.parent, prefix=f".{args.list.name}.")
        with os.fdopen(fd, "w") as out:
            out.write(result.text)
        os.replace(tmp, args.list)
    print(f"{args.list}: {len(result.changes)} changed", file=sys.stderr)
    return 0
