"""Superseded images: what a node holds of the catalog's language repositories under tags the
catalog no longer names (yesterday's sha7s). The catalog knows what is current, so it alone
can tell what is old: no other pre-puller can.

Never a candidate: an image any container uses (the runtime's own answer), an image that also
carries a tag the catalog names or a tag outside the catalog's repositories (removing it by id,
as the CRI does, would take that tag too), an untagged image. Removal happens only once every
catalog image is present, so a rollback to the previous catalog finds it until then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from startpoints.core.reference import parse
from startpoints.errors import BadReference, InUse, StartpointsError
from startpoints.oci.runtime import Local, Runtime
from startpoints.prepull.gate import when

log = logging.getLogger("startpoints.pull")


def superseded(catalog_images: Sequence[str], local: Sequence[Local]) -> list[Local]:
    """The node's images that the catalog supersedes, in-use ones included (reported, never
    removed): every tag in one of the catalog's repositories, none of them the catalog's."""
    wanted = {key for key in map(_key, catalog_images) if key}
    repositories = {repository for repository, _ in wanted}
    found = []
    for image in local:
        keys = [_key(tag) for tag in image.tags]
        if not keys or None in keys:
            continue
        if any(key in wanted for key in keys):
            continue
        if all(key[0] in repositories for key in keys if key):
            found.append(image)
    return sorted(found, key=lambda image: image.tags)


def _key(name: str) -> tuple[str, str] | None:
    """(registry/repository, tag) as runtimes and catalogs both write it: Docker's short
    `python:3` and containerd's `docker.io/library/python:3` alike."""
    try:
        ref = parse(name)
    except BadReference:
        return None
    if ref.is_layout or not ref.tag:
        return None
    return f"{ref.domain}/{ref.api_repository}", ref.tag


def settle(
    image: Local,
    since: Mapping[str, float] | None,
    keep_seconds: float,
    evict: bool,
    runtime: Runtime,
) -> dict[str, Any]:
    """What becomes of one superseded image, as an entry for /status: kept, and pinned,
    for the grace period (katas made on it still run on it); then unpinned, so the
    node's image GC may take it, and with `evict` removed. `since`: when the node's
    newest catalog first superseded each tag (None: this is not the newest catalog)."""
    entry: dict[str, Any] = {"image": ", ".join(image.tags), "bytes": image.size}
    if since is None:
        return {**entry, "state": "kept: a newer catalog's puller decides on this node"}
    first = min((since.get(tag, time.time()) for tag in image.tags), default=time.time())
    goes = first + keep_seconds
    entry.update(since=when(first), goes=when(goes))
    kept = time.time() < goes
    try:
        for tag in image.tags:
            runtime.pin(tag, kept)
    except StartpointsError as error:
        log.warning("%s: pin not changed: %s", entry["image"], error)
    if image.in_use:
        return {**entry, "state": "in use"}
    if kept:
        return {**entry, "state": f"kept until {when(goes)}"}
    if not evict:
        return {**entry, "state": "would remove"}
    try:
        runtime.remove(image)
    except InUse:
        return {**entry, "state": "in use"}
    except StartpointsError as error:
        return {**entry, "state": f"not removed: {error}"}
    log.warning("removed superseded %s (%d bytes)", entry["image"], image.size)
    return {**entry, "state": "removed"}
