"""Writing images to a store: only missing blobs, then the manifest."""

from __future__ import annotations

from dataclasses import dataclass

from startpoints.core.reference import Reference
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.image import Image
from startpoints.oci.store import Store


@dataclass(frozen=True)
class Written:
    descriptor: Descriptor
    blobs_uploaded: int
    bytes_uploaded: int


def write(store: Store, ref: Reference, image: Image) -> Written:
    """Push `image` to `ref`'s repository: blobs the store holds are skipped (checked before
    upload), then the manifest, under `ref`'s tag when it has one, else by digest alone."""
    uploaded = [b for b in image.blobs if not store.has_blob(ref, b.descriptor)]
    for blob in uploaded:
        store.push_blob(ref, blob.descriptor, blob.data)
    descriptor = store.push_manifest(ref, image.manifest, image.descriptor.media_type)
    return Written(descriptor, len(uploaded), sum(b.descriptor.size for b in uploaded))


def tag(store: Store, source: Reference, target: Reference) -> Descriptor:
    """Make `target`'s tag name the manifest `source` names, in the same repository: the
    manifest's exact bytes are put again under the new tag, no blob is copied."""
    data, descriptor = store.fetch_manifest(source)
    return store.push_manifest(target, data, descriptor.media_type)
