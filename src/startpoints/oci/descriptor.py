"""Descriptors (media type, digest, size) and sha256 digests of content."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from startpoints.errors import StoreError

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @classmethod
    def of(cls, data: bytes, media_type: str) -> Descriptor:
        return cls(media_type, sha256(data), len(data))

    @classmethod
    def from_json(cls, value: Any, where: str = "manifest") -> Descriptor:
        """A descriptor from untrusted JSON: a sha256 digest (it becomes a URL and a file
        name), a size that is a non-negative integer, a media type that is a string."""
        if not isinstance(value, dict):
            raise StoreError(f"{where}: a descriptor must be an object, not {value!r:.60}")
        media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
        if not isinstance(media_type, str) or len(media_type) > 255:
            raise StoreError(
                f"{where}: descriptor mediaType {media_type!r:.60} is not a media type"
            )
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise StoreError(f"{where}: descriptor digest {digest!r:.80} is not sha256:<64 hex>")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise StoreError(f"{where}: descriptor size {size!r:.60} is not a byte count")
        return cls(media_type, digest, size)

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    def verify(self, data: bytes, where: str) -> bytes:
        """Return `data` when its size and digest match this descriptor, else raise naming `where`."""
        if len(data) != self.size:
            raise StoreError(
                f"{where}: {self.digest} is {len(data)} bytes, its descriptor says {self.size}"
            )
        actual = sha256(data)
        if actual != self.digest:
            raise StoreError(f"{where}: content digest {actual} does not match {self.digest}")
        return data
