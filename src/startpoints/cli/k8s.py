"""`startpoints k8s CATALOG [--image REF] [--mode socket|kubelet]`: print the DaemonSet and Service."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from startpoints.cli import common
from startpoints.errors import StartpointsError


def add(verbs: Any) -> None:
    parser = common.add_verb(
        verbs,
        "k8s",
        help="print the Kubernetes DaemonSet and Service for a catalog",
        example=f"startpoints k8s {common.CATALOG_EXAMPLE} > languages-start-points.yaml",
    )
    common.add_catalog_argument(parser)
    parser.add_argument(
        "--image",
        metavar="REF",
        help="the catalog image the pods run (default: CATALOG, when a reference)",
    )
    parser.add_argument(
        "--mode",
        choices=("socket", "kubelet"),
        default="socket",
        help="pull through the CRI socket, or by kubelet with init containers",
    )
    from startpoints.deploy.k8s import RUNTIMES

    for index, option, what in (
        (0, "--runtime-socket", "the node's CRI socket"),
        (1, "--image-fs", "where the node's runtime keeps its images, for the disk budget"),
    ):
        where = "; ".join(f"{name}: {paths[index]}" for name, paths in RUNTIMES.items())
        parser.add_argument(
            option,
            metavar="PATH",
            default=RUNTIMES["containerd"][index],
            help=f"{what} (default containerd's; {where})",
        )
    parser.add_argument(
        "--toleration",
        metavar="KEY[=VALUE]:EFFECT",
        action="append",
        default=[],
        help="a taint the pods tolerate, so tainted nodes that run cyber-dojo's runner are "
        "warmed too (repeatable; EFFECT: NoSchedule, PreferNoSchedule or NoExecute)",
    )
    parser.add_argument(
        "--node-selector",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="only nodes with this label get a pod: those that run cyber-dojo's runner "
        "(repeatable)",
    )
    common.add_registry_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from startpoints.deploy import k8s
    from startpoints.workflows import serve

    image = args.image or (None if Path(args.catalog).is_dir() else args.catalog)
    if image is None:
        raise StartpointsError(
            f"{args.catalog} is a folder: give --image, the catalog image the pods run"
        )
    catalog = common.open_catalog(args)
    if image == args.catalog and not serve.entrypoint(image, common.stores(args)):
        raise StartpointsError(
            f"{image}: the image has no entrypoint, so its pods would not start; "
            "assemble it with --base <the startpoints service image> (docs/operations.md)"
        )
    try:
        tolerations = [k8s.toleration(text) for text in args.toleration]
        selector = dict(k8s.node_label(text) for text in args.node_selector)
        objects = k8s.render(
            catalog.kind,
            image,
            mode=args.mode,
            language_images=catalog.image_names,
            runtime_socket=args.runtime_socket,
            image_fs=args.image_fs,
            tolerations=tolerations,
            node_selector=selector,
        )
    except ValueError as error:
        raise StartpointsError(f"k8s: {error}") from None
    print(yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False), end="")
    return 0
