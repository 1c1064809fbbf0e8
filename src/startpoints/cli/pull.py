"""`startpoints pull CATALOG --pull docker|cri [--pull-endpoint URL]`: a one-shot pre-pull."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from startpoints.cli import common, pulling


def add(verbs: Any) -> None:

    parser = common.add_verb(
        verbs,
        "pull",
        help="pull every language image of a catalog onto this node, once",
        example=f"startpoints pull {common.CATALOG_EXAMPLE} --pull cri",
    )
    common.add_catalog_argument(parser)
    pulling.add_pull_options(parser, choices=("docker", "cri"), default="docker")
    parser.add_argument(
        "--attempts", type=int, default=3, help="tries per image before giving up (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="print each image's state as JSON")
    common.add_registry_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from startpoints.cli import progress
    from startpoints.core import words
    from startpoints.core.backoff import Backoff
    from startpoints.prepull.gate import registry_of

    catalog = common.open_catalog(args)
    puller = pulling.puller(
        args, catalog, attempts=args.attempts, backoff=Backoff(first=1.0, cap=10.0)
    )
    with progress.pulling(puller) as done:
        puller.on_done = done
        ok = puller.run_once()
    states = puller.states()
    if args.json:
        print(json.dumps(states))
    for state in states.values():
        if state.get("moved"):
            print(f"startpoints: warning: {state['moved']}", file=sys.stderr)
    failed = {image: s for image, s in states.items() if s["state"] != "present"}
    # a registry that refused this node's credentials is one line, not one per image
    denied = puller.progress().get("denied", {})
    for registry, why in denied.items():
        held = [i for i in failed if registry_of(i) == registry]
        print(
            f"startpoints: error: {registry}: {why}; {words.count(len(held), 'image')} not pulled",
            file=sys.stderr,
        )
    for image, state in failed.items():
        if registry_of(image) not in denied:
            print(
                f"startpoints: error: {state['error'] or image + ': not present'}", file=sys.stderr
            )
    present = f"{len(states) - len(failed)} of {words.count(len(states), 'image')}"
    print(f"{present} present", file=sys.stderr)
    return 0 if ok else 1
