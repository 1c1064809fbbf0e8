"""Images as bytes: an OCI config and manifest over layers, serialised canonically so digests repeat."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from startpoints.oci import mediatypes
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.layer import Layer


@dataclass(frozen=True)
class Blob:
    data: bytes
    descriptor: Descriptor


@dataclass(frozen=True)
class Base:
    """An image to build on: its config (kept: entrypoint, env, user...) and its layers."""

    config: dict[str, Any]
    layers: tuple[Descriptor, ...]
    name: str
    digest: str


@dataclass(frozen=True)
class Image:
    """An image ready to write: its manifest bytes and every blob the manifest names."""

    manifest: bytes
    blobs: tuple[Blob, ...]  # config first, then layers

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor.of(self.manifest, mediatypes.OCI_MANIFEST)

    @property
    def digest(self) -> str:
        return self.descriptor.digest


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def build(
    layers: Sequence[Layer],
    *,
    created: str,
    annotations: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    history: str = "startpoints",
    base: Base | None = None,
    env: Mapping[str, str] | None = None,
) -> Image:
    """A linux/amd64 image of `layers` (on top of `base`), so `docker pull` and `docker
    create` accept it. `created` is a fixed time (a commit's) rather than now, to keep
    digests reproducible. The blobs of `base` are not part of the result: they are the
    base's, already in a store."""
    config: dict[str, Any] = dict(base.config) if base else {"architecture": "amd64", "os": "linux"}
    inner = dict(config.get("config") or {})
    inner["Labels"] = {**(inner.get("Labels") or {}), **(labels or annotations)}
    if env:
        kept = [e for e in inner.get("Env") or [] if e.split("=", 1)[0] not in env]
        inner["Env"] = kept + [f"{k}={v}" for k, v in env.items()]

    rootfs = config.get("rootfs") or {}
    config.update(
        created=created,
        config=inner,
        rootfs={
            "type": "layers",
            "diff_ids": [*rootfs.get("diff_ids", []), *(la.diff_id for la in layers)],
        },
        history=[
            *config.get("history", []),
            *({"created": created, "created_by": history} for _ in layers),
        ],
    )
    config_blob = _blob(canonical_json(config), mediatypes.OCI_CONFIG)
    layer_blobs = [Blob(layer.data, layer.descriptor) for layer in layers]
    base_layers = [d.to_json() for d in base.layers] if base else []
    manifest = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": config_blob.descriptor.to_json(),
        "layers": base_layers + [blob.descriptor.to_json() for blob in layer_blobs],
        "annotations": dict(annotations),
    }
    return Image(canonical_json(manifest), (config_blob, *layer_blobs))


def _blob(data: bytes, media_type: str) -> Blob:
    return Blob(data, Descriptor.of(data, media_type))
