"""`startpoints publish REPO_DIR [--image NAME[:TAG|@DIGEST]]`: push a commit's start-point image."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from startpoints.cli import common


def add(verbs: Any) -> None:
    parser = common.add_verb(
        verbs,
        "publish",
        help="publish REPO_DIR's start_point/ as a start-point image",
        example="startpoints publish . --startpoints-repo ghcr.io/cyber-dojo-start-points/java-junit",
    )
    parser.add_argument(
        "repo_dir",
        type=Path,
        metavar="REPO_DIR",
        help="a language repo: its start_point/ is read from the commit, not the work tree",
    )
    parser.add_argument(
        "--image",
        metavar="NAME[:TAG|@DIGEST]",
        help="one repository per language: the language image, tagged with this commit's sha7 "
        "and written as image_name. Without it, image_name is kept as committed: it must name "
        "the language repository's own existing tag (two repositories per language)",
    )
    parser.add_argument(
        "--startpoints-repo",
        metavar="NAME",
        help="where the start-point image goes, tagged sha7 "
        "(default: the language image's registry/cyberdojostartpoints/<last part>)",
    )
    parser.add_argument("--sha", help="the commit to publish (default: REPO_DIR's HEAD)")
    parser.add_argument(
        "--source", help="org.opencontainers.image.source (default: the origin URL)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON summary before the reference line"
    )
    common.add_registry_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from startpoints.core import reference
    from startpoints.workflows import publish

    request = publish.Request(
        repo_dir=args.repo_dir,
        image=reference.parse(args.image) if args.image else None,
        startpoints_repo=reference.parse(args.startpoints_repo) if args.startpoints_repo else None,
        sha=args.sha,
        source=args.source,
    )
    result = publish.publish(request, common.stores(args), say=common.say)
    if args.json:
        print(json.dumps(result.as_json()))
    print(result.start_point)
    return 0
