"""`startpoints assemble SOURCE... [--from FILE] [--output DIR] [--tag REF] [--base REF]
[--previous CATALOG]`."""

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
        "assemble",
        help="assemble a catalog from start-point images, sha7@git-urls and folders",
        example="startpoints assemble --from start-points.txt --base "
        f"ghcr.io/cyber-dojo/startpoints:v0.1.0 --tag {common.CATALOG_EXAMPLE}",
    )
    parser.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="image ref (tag or digest), sha7@git-url, or folder",
    )
    parser.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE|CATALOG",
        help="a list, one source per line, # comments; or a catalog (folder or image): the "
        "pinned sources, kind and base it was built from, so it is rebuilt byte for byte",
    )
    parser.add_argument(
        "--output", type=Path, metavar="DIR", help="write the catalog folder (replaced whole)"
    )
    parser.add_argument(
        "--tag", metavar="REF", help="push the catalog image as REF (may be oci:PATH:NAME)"
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help="the image the catalog layer goes on (default: none, data only)",
    )
    parser.add_argument(
        "--replaces",
        metavar="REF",
        help="the catalog image this one replaces (the one in production): recorded by digest "
        "in the image's annotations and on /start_points, the one to roll back to",
    )
    parser.add_argument(
        "--previous",
        metavar="CATALOG",
        help="the catalog this one replaces (folder or image, usually the one in production): "
        "its start points whose names this one no longer serves (a version bump renames them) "
        "are kept, so /manifest still answers a client that listed them mid-rollout",
    )
    common.add_kind_option(parser, "the kind of catalog")
    images = parser.add_mutually_exclusive_group()
    images.add_argument(
        "--verify-images",
        action="store_const",
        const="verify",
        dest="images",
        help="every image_name must be found in its registry (its digest and size recorded)",
    )
    images.add_argument(
        "--no-verify-images",
        action="store_const",
        const="skip",
        dest="images",
        help="do not look image_names up (by default each is looked up where its registry "
        "answers, and its digest and compressed size recorded for pre-pull progress)",
    )
    parser.set_defaults(images="auto")
    parser.add_argument("--jobs", type=int, default=8, help="sources fetched at once (default 8)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    common.add_registry_options(parser)
    parser.set_defaults(run=run)


def read_sources(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The sources named, then those of --from: a list file, or a catalog (folder or image),
    whose catalog.json records the sources it was built from and their digests (the pins)."""
    given = list(args.sources)
    if not args.from_file:
        return given, {}
    if Path(args.from_file).is_file():
        return given + common.list_sources(Path(args.from_file)), {}
    from startpoints.workflows import serve

    built = serve.built_from(args.from_file, common.stores(args))
    args.kind = built["kind"]
    if args.base is None and built.get("base"):
        args.base = built["base"]
    if args.replaces is None and built.get("replaces"):
        args.replaces = built["replaces"]
    if args.previous is None and built.get("previous"):
        args.previous = built["previous"]
    return given + [str(s) for s in built["sources"]], dict(built["pins"])


def run(args: argparse.Namespace) -> int:
    from startpoints.cli import common, progress
    from startpoints.core import reference
    from startpoints.workflows import assemble

    texts, pins = read_sources(args)
    request = assemble.Request(
        sources=texts,
        pins=pins,
        kind=args.kind,
        output=args.output,
        tag=reference.parse(args.tag) if args.tag else None,
        base=reference.parse(args.base) if args.base else None,
        replaces=reference.parse(args.replaces) if args.replaces else None,
        previous=args.previous,
        images=args.images,
        jobs=args.jobs,
    )
    with progress.sources(len(texts), f"assembling {len(texts)} sources") as done:
        result = assemble.assemble(request, common.stores(args), say=common.say, done=done)
    if args.json:
        print(json.dumps(result.as_json()))
    from startpoints.core import words

    checked = f"{words.count(len(result.start_points), 'start point')} ({result.kind})"
    if args.output is None and args.tag is None:
        checked += ": checked, nothing written (give --output DIR or --tag REF)"
    print(checked, file=sys.stderr)
    if result.image is not None:
        print(result.image)
    return 0
