"""`startpoints inspect [CATALOG]`: what `cyber-dojo start-point inspect NAME` prints, from the
catalog itself (its default is the one a catalog image carries), so commander can run it inside
the image in place of `ruby /app/repos/inspect.rb`."""

from __future__ import annotations

import argparse
from typing import Any

from startpoints.cli import common

IN_THE_IMAGE = "/startpoints/catalog"


def add(verbs: Any) -> None:
    parser = common.add_verb(
        verbs,
        "inspect",
        help="print each start point's source, commit and image as cyber-dojo's inspect does",
        example="startpoints inspect   # inside a catalog image",
    )
    common.add_catalog_argument(parser, default=IN_THE_IMAGE)
    common.add_registry_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    catalog = common.open_catalog(args)
    print(json.dumps(described(catalog.start_points, catalog.kind), indent=2, sort_keys=True))
    return 0


def described(start_points: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Keyed by raw display_name: url (the source as given), sha (the commit), and, but for
    exercises, image_name."""
    found: dict[str, dict[str, Any]] = {}
    for sp in start_points:
        entry: dict[str, Any] = {"url": sp.get("source"), "sha": sp.get("revision")}
        if kind != "exercises":
            entry["image_name"] = sp.get("image_name")
        found[str(sp.get("display_name"))] = entry
    return found
