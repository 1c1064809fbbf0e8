"""Descriptors (media type, digest, size) and sha256 digests of content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from startpoints.errors import StoreError


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
    def from_json(cls, value: dict[str, Any]) -> Descriptor:
        return cls(str(value["mediaType"]), str(value["digest"]), int(value["size"]))

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
