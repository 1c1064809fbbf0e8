"""Reading images from a store: the image manifest a reference names, through an index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from startpoints.core.reference import Reference
from startpoints.errors import StartpointsError
from startpoints.oci import mediatypes, unpack
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.store import Store

PLATFORM = ("linux", "amd64")


def image_manifest(store: Store, ref: Reference) -> tuple[dict[str, Any], Descriptor]:
    """The image manifest `ref` names, through an index to linux/amd64 when it is one."""
    data, descriptor = store.fetch_manifest(ref)
    value = json.loads(data)
    if descriptor.media_type in mediatypes.INDEXES or "manifests" in value:
        for entry in value.get("manifests", []):
            platform = entry.get("platform") or {}
            if (platform.get("os"), platform.get("architecture")) == PLATFORM:
                chosen = Descriptor.from_json(entry)
                data, descriptor = store.fetch_manifest(ref.at_digest(chosen.digest))
                value = json.loads(data)
                break
        else:
            raise StartpointsError(f"{ref}: the image index has no linux/amd64 image")
    if "config" not in value:
        raise StartpointsError(f"{ref}: not an image manifest ({descriptor.media_type})")
    return value, descriptor


def unpack_image(
    store: Store, ref: Reference, into: Path, budget: unpack.Budget
) -> tuple[dict[str, Any], Descriptor]:
    """Apply every layer of the image `ref` names, in order, onto `into`; every blob verified."""
    manifest, descriptor = image_manifest(store, ref)
    for i, layer in enumerate(manifest.get("layers", [])):
        blob = store.fetch_blob(ref, Descriptor.from_json(layer))
        unpack.apply(blob, into, where=f"{ref} layer {i}", budget=budget)
    return manifest, descriptor
