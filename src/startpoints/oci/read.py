"""Reading images from a store: the image manifest a reference names (through an index), its
config and its layers, every one of them untrusted until checked here.

Manifests and configs are capped in size (core/limits.py) before they are read whole and
parsed with a nesting limit; their descriptors must be well formed; a layer larger than
the limit is not fetched. Each problem is a StoreError naming the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from startpoints.core import strictjson
from startpoints.core.limits import DEFAULT, Limits
from startpoints.core.reference import Reference
from startpoints.errors import StoreError
from startpoints.oci import mediatypes, unpack
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.store import Store

PLATFORM = ("linux", "amd64")


def image_manifest(
    store: Store, ref: Reference, limits: Limits = DEFAULT
) -> tuple[dict[str, Any], Descriptor]:
    """The image manifest `ref` names, through an index to linux/amd64 when it is one."""
    value, descriptor = named_manifest(store, ref, limits)
    return platform_image(store, ref, value, descriptor, limits)


def platform_image(
    store: Store, ref: Reference, value: dict[str, Any], descriptor: Descriptor, limits: Limits
) -> tuple[dict[str, Any], Descriptor]:
    """The image manifest a manifest `value` stands for: itself, or an index's linux/amd64."""
    if descriptor.media_type in mediatypes.INDEXES or "manifests" in value:
        entries = value.get("manifests", [])
        if not isinstance(entries, list):
            raise StoreError(f"{ref}: the image index's manifests is not a list")
        for entry in entries:
            platform = entry.get("platform") if isinstance(entry, dict) else None
            platform = platform if isinstance(platform, dict) else {}
            if (platform.get("os"), platform.get("architecture")) == PLATFORM:
                chosen = Descriptor.from_json(entry, f"{ref} index")
                value, descriptor = named_manifest(store, ref.at_digest(chosen.digest), limits)
                break
        else:
            raise StoreError(f"{ref}: the image index has no linux/amd64 image")
    if "config" not in value:
        raise StoreError(f"{ref}: not an image manifest ({descriptor.media_type})")
    config_descriptor(value, ref)  # well formed, even where the config is never fetched
    return value, descriptor


def config_descriptor(manifest: dict[str, Any], ref: Reference) -> Descriptor:
    return Descriptor.from_json(manifest.get("config"), f"{ref} config")


def layer_descriptors(manifest: dict[str, Any], ref: Reference) -> list[Descriptor]:
    layers = manifest.get("layers", [])
    if not isinstance(layers, list):
        raise StoreError(f"{ref}: the manifest's layers is not a list")
    return [Descriptor.from_json(layer, f"{ref} layer {i}") for i, layer in enumerate(layers)]


def image_config(
    store: Store, ref: Reference, manifest: dict[str, Any], limits: Limits = DEFAULT
) -> dict[str, Any]:
    """The image's config JSON, refused when larger than the limit or not an object."""
    descriptor = config_descriptor(manifest, ref)
    if descriptor.size > limits.config_bytes:
        raise StoreError(
            f"{ref}: its config is {descriptor.size} bytes, over the limit of {limits.config_bytes}"
        )
    return _object(store.fetch_blob(ref, descriptor), f"{ref} config", limits)


def layer_blob(store: Store, ref: Reference, descriptor: Descriptor, limits: Limits) -> bytes:
    if descriptor.size > limits.layer_bytes:
        raise StoreError(
            f"{ref}: a layer of {descriptor.size} bytes, over the limit of {limits.layer_bytes}"
        )
    return store.fetch_blob(ref, descriptor)


def unpack_image(
    store: Store, ref: Reference, into: Path, budget: unpack.Budget, limits: Limits = DEFAULT
) -> tuple[dict[str, Any], Descriptor]:
    """Apply every layer of the image `ref` names, in order, onto `into` (a new folder); every
    blob verified, and, once all are laid out, every link followed for real must stay inside
    `into` (looked for only where a layer made one)."""
    value, descriptor = image_manifest(store, ref, limits)
    links = 0
    for i, layer in enumerate(layer_descriptors(value, ref)):
        blob = layer_blob(store, ref, layer, limits)
        links += unpack.apply(blob, into, where=f"{ref} layer {i}", budget=budget)
    if links:
        unpack.check_links(into, str(ref))
    return value, descriptor


def named_manifest(
    store: Store, ref: Reference, limits: Limits
) -> tuple[dict[str, Any], Descriptor]:
    """The manifest `ref` names, as it is (an image's or an index), parsed within limits."""
    data, descriptor = store.fetch_manifest(ref)  # capped by the store, before it is read
    return _object(data, f"{ref} manifest", limits), descriptor


def _object(data: bytes, where: str, limits: Limits) -> dict[str, Any]:
    try:
        value = strictjson.loads_bounded(data, limits.json_depth)
    except ValueError as error:
        raise StoreError(f"{where}: not JSON: {str(error)[:200]}") from None
    if not isinstance(value, dict):
        raise StoreError(f"{where}: not a JSON object")
    return value
