"""An OCI image layout on disk (`oci:PATH[:NAME]`, as skopeo and buildah write it) as a Store.

Tags live in index.json as `org.opencontainers.image.ref.name` = `[repository:]tag`.
Every write is a temporary file renamed into place, and index.json changes under
a lock, so concurrent writers and a crash never leave a half-written layout.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from startpoints.core.reference import Reference
from startpoints.errors import NotFound, StoreError
from startpoints.oci import mediatypes
from startpoints.oci.descriptor import Descriptor

REF_NAME = "org.opencontainers.image.ref.name"
_LAYOUT_FILE = {"imageLayoutVersion": "1.0.0"}


class LayoutStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, ref: Reference) -> Descriptor | None:
        if ref.digest:
            path = self._blob_path(ref.digest)
            if not path.is_file():
                return None
            return Descriptor(_media_type(path.read_bytes()), ref.digest, path.stat().st_size)
        for entry in self._index().get("manifests", []):
            if entry.get("annotations", {}).get(REF_NAME) == ref.ref_name:
                return Descriptor.from_json(entry)
        return None

    def fetch_manifest(self, ref: Reference) -> tuple[bytes, Descriptor]:
        descriptor = self.resolve(ref)
        if descriptor is None:
            raise NotFound(f"{ref}: no such image in the layout")
        return self.fetch_blob(ref, descriptor), descriptor

    def fetch_blob(self, ref: Reference, descriptor: Descriptor) -> bytes:
        try:
            data = self._blob_path(descriptor.digest).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{ref}: blob {descriptor.digest} is missing from {self.root}") from None
        return descriptor.verify(data, str(ref))

    def has_blob(self, ref: Reference, descriptor: Descriptor) -> bool:
        path = self._blob_path(descriptor.digest)
        return path.is_file() and path.stat().st_size == descriptor.size

    def push_blob(self, ref: Reference, descriptor: Descriptor, data: bytes) -> None:
        descriptor.verify(data, str(ref))
        self._init()
        path = self._blob_path(descriptor.digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)

    def push_manifest(self, ref: Reference, data: bytes, media_type: str) -> Descriptor:
        descriptor = Descriptor.of(data, media_type)
        self.push_blob(ref, descriptor, data)
        if ref.tag is None:
            return descriptor
        with self._locked():
            index = self._index()
            entries = [
                e
                for e in index.get("manifests", [])
                if e.get("annotations", {}).get(REF_NAME) != ref.ref_name
            ]
            entries.append({**descriptor.to_json(), "annotations": {REF_NAME: ref.ref_name}})
            index.update(schemaVersion=2, mediaType=mediatypes.OCI_INDEX, manifests=entries)
            _write_atomically(self.root / "index.json", json.dumps(index, indent=2).encode())
        return descriptor

    def tags(self) -> list[str]:
        """Every ref name in the layout, sorted."""
        names = (e.get("annotations", {}).get(REF_NAME) for e in self._index().get("manifests", []))
        return sorted(n for n in names if n)

    def _init(self) -> None:
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        marker = self.root / "oci-layout"
        if not marker.exists():
            _write_atomically(marker, json.dumps(_LAYOUT_FILE).encode())

    def _index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            value = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise StoreError(f"{path}: unreadable OCI layout index: {error}") from None
        if not isinstance(value, dict):
            raise StoreError(f"{path}: not an OCI layout index")
        return value

    def _blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64 or not hexdigest.isalnum():
            raise StoreError(f"{self.root}: unsupported digest {digest!r}")
        return self.root / "blobs" / algorithm / hexdigest

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._init()
        with open(self.root / ".startpoints.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _media_type(data: bytes) -> str:
    try:
        return str(json.loads(data).get("mediaType", mediatypes.OCI_MANIFEST))
    except (ValueError, AttributeError):
        raise StoreError("not a manifest") from None
