"""`startpoints serve CATALOG [--host H] [--port P] [--pull none|docker|cri] [--pull-endpoint URL]`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from startpoints.cli import common, pulling

DEFAULT_MARKER = "/tmp/startpoints-prepulled.json"


def add(verbs: Any) -> None:
    parser = common.add_verb(
        verbs,
        "serve",
        help="serve a catalog (folder or image) with cyber-dojo's API",
        example=f"startpoints serve {common.CATALOG_EXAMPLE} --pull docker",
    )
    common.add_catalog_argument(parser)
    parser.add_argument("--host", default="0.0.0.0", help="the address to listen on")
    parser.add_argument(
        "--port", type=int, help="default: 4524 languages, 4525 exercises, 4526 custom"
    )
    pulling.add_pull_options(parser, choices=("none", "docker", "cri"), default="none")
    common.add_registry_options(parser)
    parser.add_argument(
        "--pull-on",
        choices=("ready", "start"),
        default="ready",
        help="start the pull at the first /ready (default) or at once",
    )
    parser.add_argument(
        "--marker",
        default=DEFAULT_MARKER,
        help="written once every image is present, naming the catalog and its digests: a "
        f"restart that finds it is ready at once and verifies in the background (default "
        f"{DEFAULT_MARKER}; put it on the node's disk to outlive the container)",
    )
    parser.add_argument(
        "--node-record",
        metavar="PATH",
        help="the record every puller of this node shares (which catalog is newest, since "
        "when each image is superseded); default: startpoints-node.json beside --marker",
    )
    parser.add_argument(
        "--recheck",
        type=float,
        metavar="SECONDS",
        help="re-check now and then; re-pull what was garbage-collected",
    )
    parser.add_argument("--no-access-log", action="store_true", help="log no line per request")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from startpoints.http import app, server
    from startpoints.workflows import serve

    catalog = common.open_catalog(args)
    port = args.port or int(os.environ.get("PORT") or serve.PORTS.get(catalog.kind, 4524))

    readiness = None
    if args.pull != "none":
        from startpoints.prepull.record import NodeRecord

        marker = Path(args.marker)
        record = NodeRecord(
            Path(args.node_record or marker.with_name("startpoints-node.json")),
            # a puller rechecking is alive while it says so; one that runs once, for an hour
            alive=3 * args.recheck if args.recheck else 3600.0,
        )
        readiness = pulling.puller(
            args, catalog, marker=marker, record=record, recheck=args.recheck
        )
        if args.pull_on == "start":
            readiness.poke()
    from startpoints.core import words

    def listening() -> None:
        served = words.count(len(catalog.names), "start point")
        print(
            f"serving {served} ({catalog.kind}) on {args.host}:{port}", file=sys.stderr, flush=True
        )

    sha = os.environ.get("SHA") or _installed_commit()
    try:
        server.run(
            app.build(catalog, sha=sha, readiness=readiness),
            host=args.host,
            port=port,
            access_log=not args.no_access_log,
            on_listening=listening,
        )
    finally:
        if readiness is not None:
            readiness.stop()  # no retry starts after the server has stopped
    return 0


def _installed_commit() -> str | None:
    """The commit of this startpoints when it runs from a git checkout (SHA unset)."""
    from pathlib import Path

    from startpoints import git
    from startpoints.errors import StartpointsError

    try:
        return git.resolve(Path(__file__).resolve().parents[3]).sha
    except StartpointsError:
        return None
