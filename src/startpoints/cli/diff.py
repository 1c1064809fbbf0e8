"""`startpoints diff OLD NEW [--json|--markdown]`: start points added, removed and changed
between two catalogs, each a catalog folder, a catalog image, or a list (assembled first)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from startpoints.cli import common


def add(verbs: Any) -> None:
    parser = common.add_verb(
        verbs,
        "diff",
        help="start points added, removed and changed between two catalogs or lists",
        example="startpoints diff ghcr.io/cyber-dojo/languages:old start-points.txt --markdown",
    )
    parser.add_argument("old", metavar="OLD", help="a catalog folder, catalog image or list")
    parser.add_argument("new", metavar="NEW", help="a catalog folder, catalog image or list")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="as JSON")
    shown.add_argument("--markdown", action="store_true", help="as a pull-request body")
    common.add_registry_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from startpoints.workflows import diff

    stores = common.stores(args)
    with tempfile.TemporaryDirectory(prefix="startpoints-diff-") as work:
        old = _open(args.old, stores, Path(work) / "old")
        new = _open(args.new, stores, Path(work) / "new")
        found = diff.compare(old, new)
    shown = diff.as_json if args.json else diff.as_markdown if args.markdown else diff.as_text
    sys.stdout.write(shown(found) + ("\n" if args.json else ""))
    return 0


def _open(text: str, stores: Any, work: Path) -> Any:
    """A catalog folder or image as serve opens it; a list file is assembled first."""
    from startpoints.workflows import assemble, serve

    work.mkdir(parents=True)
    if Path(text).is_file():
        sources = common.list_sources(Path(text))
        request = assemble.Request(sources=sources, output=work / "catalog", images="auto")
        assemble.assemble(request, stores)
        return serve.open_catalog(str(work / "catalog"), stores)
    return serve.open_catalog(text, stores, workdir=work)
