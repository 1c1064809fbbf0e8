"""The pull options `serve` and `pull` share, and the Puller they ask for: which runtime,
how many at once, the disk budget, the registry's free HEAD for quotas and moved tags."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from startpoints.cli import common


def add_pull_options(
    parser: argparse.ArgumentParser, *, choices: tuple[str, ...], default: str
) -> None:
    parser.add_argument(
        "--pull",
        choices=choices,
        default=default,
        help="pre-pull the language images through an engine or a CRI",
    )
    parser.add_argument(
        "--pull-endpoint",
        metavar="URL",
        help="unix:///...sock or tcp://...; default: $DOCKER_HOST / containerd's socket",
    )
    parser.add_argument(
        "--pull-jobs", type=int, default=8, help="images pulled at once (default 8)"
    )
    parser.add_argument(
        "--pull-first",
        metavar="NAME",
        action="append",
        default=[],
        help="a start point's name or a language image, pulled before the rest (repeatable; "
        "the rest smallest first, by the catalog's sizes)",
    )

    parser.add_argument(
        "--rate-limit-wait",
        metavar="S",
        type=float,
        default=900.0,
        help="seconds a registry that answers 'too many requests' is left alone, all its "
        "images, where it says neither Retry-After nor its window (default 900, ±20%%)",
    )

    parser.add_argument(
        "--evict-superseded",
        action="store_true",
        help="once every image is present, remove this node's images of the catalog's "
        "language repositories under tags the catalog no longer names, --keep-superseded "
        "after they stopped being named (never one in use; only the node's newest catalog "
        "does); without it they are only listed, on /status and the status page",
    )
    parser.add_argument(
        "--keep-superseded",
        metavar="DURATION",
        type=duration,
        default="30d",
        help="how long a superseded image is kept for the katas created on it, e.g. 30d, "
        "12h, 90s (default 30d, as cyber-dojo's runner keeps images used within a month)",
    )
    parser.add_argument(
        "--check-quota",
        action="store_true",
        help="before pulling, and after each hold, HEAD one manifest per registry (free on "
        "Docker Hub) to read the pulls it still allows (ratelimit-remaining, with the "
        "credentials of config.json), and start no more than that",
    )
    parser.add_argument(
        "--image-fs",
        metavar="PATH",
        type=Path,
        help="the runtime's image filesystem (mounted read-only): pull only what fits below "
        "--disk-limit, report the rest (default: not checked)",
    )
    parser.add_argument(
        "--disk-limit",
        metavar="PERCENT",
        type=float,
        default=80.0,
        help="fill the image filesystem to at most this, counted as the kubelet counts "
        "(available space); default 80, the kubelet's image GC low threshold, so its GC "
        "(from 85) finds nothing to do",
    )
    parser.add_argument(
        "--expansion",
        type=float,
        default=3.0,
        help="disk bytes per compressed byte: blobs kept plus layers unpacked (default 3.0)",
    )


def duration(text: str) -> float:
    """`30d`, `12h`, `15m`, `90s` or plain seconds, as seconds."""
    units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1.0)
    try:
        seconds = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a duration like 30d, 12h or 90s") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: not a duration like 30d, 12h or 90s")
    return seconds


def budget(args: argparse.Namespace) -> Any:
    """The disk budget --image-fs asks for, or None."""
    if args.image_fs is None:
        return None
    from startpoints.errors import StartpointsError
    from startpoints.prepull.budget import Budget

    if not args.image_fs.is_dir():
        raise StartpointsError(f"--image-fs {args.image_fs}: no such folder")
    return Budget(args.image_fs, limit=args.disk_limit, expansion=args.expansion)


def look(args: argparse.Namespace) -> Any:
    """The registry's manifest HEAD (free on Docker Hub), with config.json's credentials:
    image → (the digest its tag names now, the rate limit the registry states)."""
    import importlib
    import threading

    from startpoints.core.ratelimit import Limit
    from startpoints.core.reference import parse

    opened = common.stores(args)
    # The registry client is first wanted once a pull is done. Imported now, on a thread of
    # its own while the first pulls wait on the runtime: otherwise by the first pull slot to
    # get there, every other slot waiting behind it (~0.1 s, py-spy; docs/benchmarks.md).
    threading.Thread(
        target=importlib.import_module, args=("startpoints.oci.registry",), daemon=True
    ).start()

    def head(image: str) -> tuple[str | None, Limit]:
        ref = parse(image)
        store = opened.for_ref(ref)
        return store.head(ref) if hasattr(store, "head") else (None, Limit())

    return head


def puller(args: argparse.Namespace, catalog: Any, **more: Any) -> Any:
    """The Puller the pull options (add_pull_options) ask for, over `catalog`'s images; `more`
    is what the verb adds (serve: marker, record and recheck; pull: attempts and backoff)."""
    from startpoints.prepull.puller import Puller

    return Puller(
        catalog.image_names,
        pull_runtime(args),
        identity=catalog.identity,
        digests=catalog.image_digests,
        sizes=catalog.image_sizes,
        first=pull_first(args, catalog),
        rate_limit_wait=args.rate_limit_wait,
        look=look(args),
        check_quota=args.check_quota,
        evict=args.evict_superseded,
        keep_superseded=args.keep_superseded,
        budget=budget(args),
        jobs=args.pull_jobs,
        **more,
    )


def pull_first(args: argparse.Namespace, catalog: Any) -> list[str]:
    """--pull-first's names as language images: a start point's name names its image."""
    images = []
    for name in args.pull_first:
        found = catalog.manifest(name)
        images.append(str(found["image_name"]) if found and found.get("image_name") else name)
    return images


def pull_runtime(args: argparse.Namespace) -> Any:
    """The backend --pull names; the engine defaults to $DOCKER_HOST, as docker's client does.
    Each failed pull and its retry is reported on stderr, one line each."""
    import logging
    import sys

    from startpoints.oci.runtime import runtime

    reports = logging.getLogger("startpoints.pull")
    if not reports.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("startpoints: %(message)s"))
        reports.addHandler(handler)
        reports.propagate = False

    endpoint = args.pull_endpoint or (
        os.environ.get("DOCKER_HOST") if args.pull == "docker" else None
    )
    return runtime(args.pull, endpoint, common.docker_config())
