"""Superseded images: what a node holds of the catalog's language repositories under tags the
catalog no longer names (yesterday's sha7s). The catalog knows what is current, so it alone
can tell what is old: no other pre-puller can.

Never a candidate: an image any container uses (the runtime's own answer), an image that also
carries a tag the catalog names or a tag outside the catalog's repositories (removing it by id,
as the CRI does, would take that tag too), an untagged image. Removal happens only once every
catalog image is present, so a rollback to the previous catalog finds it until then.
"""

from __future__ import annotations

from collections.abc import Sequence

from startpoints.core.reference import parse
from startpoints.errors import BadReference
from startpoints.oci.runtime import Local


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
