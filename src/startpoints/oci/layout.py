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

from startpoints.core import strictjson
from startpoints.core.limits import DEFAULT, Limits
from startpoints.core.reference import Reference
from startpoints.errors import NotFound, StoreError
from startpoints.oci import mediatypes
from startpoints.oci.descriptor import Descriptor

REF_NAME = "org.opencontainers.image.ref.name"
_LAYOUT_FILE = {"imageLayoutVersion": "1.0.0"}


class LayoutStore:
    def __init__(self, root: Path, limits: Limits = DEFAULT) -> None:
        self.root = root
        self.limits = limits

    def resolve(self, ref: Reference) -> Descriptor | None:
        if ref.digest:
            path = self._blob_path(ref.digest)
            if not path.is_file():
                return None
            size = path.stat().st_size
            if size > self.limits.manifest_bytes:
                raise StoreError(f"{ref}: a manifest of {size} bytes, over the limit")
            return Descriptor(_media_type(path.read_bytes()), ref.digest, size)
        for entry in self._entries():
            if _ref_name(entry) == ref.ref_name:
                return Descriptor.from_json(entry, f"{self.root}/index.json")
        return None

    def fetch_manifest(self, ref: Reference) -> tuple[bytes, Descriptor]:
        descriptor = self.resolve(ref)
        if descriptor is None:
            raise NotFound(f"{ref}: no such image in the layout")
        if descriptor.size > self.limits.manifest_bytes:
            raise StoreError(f"{ref}: a manifest of {descriptor.size} bytes, over the limit")
        return self.fetch_blob(ref, descriptor), descriptor

    def fetch_blob(self, ref: Reference, descriptor: Descriptor) -> bytes:
        path = self._blob_path(descriptor.digest)
        try:
            with open(path, "rb") as blob:
                data = blob.read(descriptor.size + 1)  # never more than the descriptor says
        except FileNotFoundError:
            raise NotFound(f"{ref}: blob {descriptor.digest} is missing from {self.root}") from None
        except OSError as error:
            raise StoreError(f"{ref}: blob {descriptor.digest}: {error.strerror}") from None
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
            entries = [e for e in self._entries(index) if _ref_name(e) != ref.ref_name]
            entries.append({**descriptor.to_json(), "annotations": {REF_NAME: ref.ref_name}})
            index.update(schemaVersion=2, mediaType=mediatypes.OCI_INDEX, manifests=entries)
            _write_atomically(self.root / "index.json", json.dumps(index, indent=2).encode())
        return descriptor

    def tags(self) -> list[str]:
        """Every ref name in the layout, sorted."""
        return sorted(n for n in map(_ref_name, self._entries()) if n)

    def _init(self) -> None:
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        marker = self.root / "oci-layout"
        if not marker.exists():
            _write_atomically(marker, json.dumps(_LAYOUT_FILE).encode())

    def _index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            if path.stat().st_size > self.limits.manifest_bytes:
                raise StoreError(
                    f"{path}: an index of more than {self.limits.manifest_bytes} bytes"
                )
            value = strictjson.loads_bounded(path.read_bytes(), self.limits.json_depth)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise StoreError(f"{path}: unreadable OCI layout index: {str(error)[:200]}") from None
        if not isinstance(value, dict):
            raise StoreError(f"{path}: not an OCI layout index")
        return value

    def _entries(self, index: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        entries = (self._index() if index is None else index).get("manifests", [])
        if not isinstance(entries, list):
            raise StoreError(f"{self.root}/index.json: manifests is not a list")
        return [e for e in entries if isinstance(e, dict)]

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


def _ref_name(entry: dict[str, Any]) -> str | None:
    annotations = entry.get("annotations")
    name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
    return name if isinstance(name, str) else None


def _media_type(data: bytes) -> str:
    try:
        media_type = strictjson.loads_bounded(data).get("mediaType", mediatypes.OCI_MANIFEST)
    except (ValueError, AttributeError):
        raise StoreError("not a manifest") from None
    return str(media_type)
