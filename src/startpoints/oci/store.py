"""The one small interface every image store (registry, `oci:` layout) offers."""

from __future__ import annotations

from typing import Protocol

from startpoints.core.reference import Reference
from startpoints.oci.descriptor import Descriptor


class Store(Protocol):
    """Content-addressed manifests and blobs, with tags; `ref` names the repository and tag/digest."""

    def resolve(self, ref: Reference) -> Descriptor | None:
        """The manifest `ref`'s tag or digest names, or None when absent."""
        ...

    def fetch_manifest(self, ref: Reference) -> tuple[bytes, Descriptor]:
        """The manifest's exact bytes; a digest in `ref` is verified. One larger than the
        store's `limits.manifest_bytes` is refused before it is read."""
        ...

    def fetch_blob(self, ref: Reference, descriptor: Descriptor) -> bytes:
        """A blob of `ref`'s repository, verified against `descriptor`'s digest and size."""
        ...

    def has_blob(self, ref: Reference, descriptor: Descriptor) -> bool: ...

    def push_blob(self, ref: Reference, descriptor: Descriptor, data: bytes) -> None: ...

    def push_manifest(self, ref: Reference, data: bytes, media_type: str) -> Descriptor:
        """Store `data` under `ref`'s tag, or by digest when `ref` has none."""
        ...
