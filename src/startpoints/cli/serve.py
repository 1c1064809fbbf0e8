"""`startpoints serve CATALOG [--host H] [--port P] [--pull none|docker|cri]`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def add(verbs: Any) -> None:
    parser = verbs.add_parser(
        "serve", help="serve a catalog (folder or image) with cyber-dojo's API"
    )
    parser.add_argument(
        "catalog", metavar="CATALOG", help="a catalog folder or catalog image reference"
    )
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument(
        "--port", type=int, help="default: 4524 languages, 4525 exercises, 4526 custom"
    )
    parser.add_argument(
        "--pull", choices=("none",), default="none", help="pre-pull the language images (none)"
    )
    parser.add_argument("--no-access-log", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from startpoints.cli.main import docker_config
    from startpoints.http import app, server
    from startpoints.oci.stores import Stores
    from startpoints.workflows import serve

    catalog = serve.open_catalog(args.catalog, Stores(docker_config=docker_config()))
    port = args.port or serve.PORTS.get(catalog.kind, 4524)
    print(
        f"serving {len(catalog.names)} {catalog.kind} start points on {args.host}:{port}",
        file=sys.stderr,
    )
    server.run(
        app.build(catalog, sha=os.environ.get("SHA")),
        host=args.host,
        port=port,
        access_log=not args.no_access_log,
    )
    return 0
