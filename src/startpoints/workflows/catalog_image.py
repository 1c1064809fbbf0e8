"""The catalog image: the catalog folder as one reproducible layer, on the service image
(the base) or on nothing; labelled with its kind and the catalog it replaced; pushed with its
tag last, never moving a tag."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from startpoints.core import catalog
from startpoints.core.manifest import Kind
from startpoints.core.reference import Reference
from startpoints.errors import StartpointsError, TagConflict
from startpoints.oci import image, layer, mediatypes, read, write
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.stores import Stores

CATALOG_PATH = "startpoints/catalog"  # where a catalog image holds the catalog folder
KIND_LABEL = "org.cyber-dojo.start-point"
REPLACES = "org.cyber-dojo.start-points.replaces"  # the catalog image this one replaced
EPOCH = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class BaseImage:
    """A base image and where its blobs are, so they can be copied or loaded."""

    image: image.Base
    ref: Reference

    def blob(self, stores: Stores, descriptor: Descriptor) -> bytes:
        return stores.for_ref(self.ref).fetch_blob(self.ref, descriptor)


def build(
    staging: Path,
    kind: Kind,
    provenance: list[dict[str, Any]],
    base: BaseImage | None,
    replaces: str | None = None,
) -> image.Image:
    """The catalog folder as one reproducible layer (on `base`), labelled with its kind and
    annotated with the catalog image it replaced."""
    created = max((p["created"] for p in provenance if p.get("created")), default=EPOCH)
    annotations = {KIND_LABEL: kind, "org.opencontainers.image.created": created}
    labels: dict[str, str] = {KIND_LABEL: kind}
    if replaces is not None:  # a label too: `docker inspect` shows labels, not annotations
        annotations[REPLACES] = labels[REPLACES] = replaces
    if base is not None:
        annotations["org.opencontainers.image.base.name"] = base.image.name
        annotations["org.opencontainers.image.base.digest"] = base.image.digest
    return image.build(
        [layer.from_dir(staging, CATALOG_PATH)],
        created=created,
        annotations=annotations,
        labels=labels,
        history="startpoints assemble",
        base=base.image if base else None,
        # the service in the base image listens where cyber-dojo expects this kind
        env={"PORT": str(catalog.PORTS[kind])} if base else None,
    )


def replaced(ref: Reference, kind: Kind, stores: Stores, option: str = "--replaces") -> str:
    """`ref` pinned to its digest, once it is found to be a catalog image of `kind`: a
    rollback target must be one, and so must a previous catalog (checked before any source
    is fetched)."""
    manifest_json, descriptor = read.image_manifest(stores.for_ref(ref), ref, stores.limits)
    annotations = manifest_json.get("annotations")
    found = annotations.get(KIND_LABEL) if isinstance(annotations, dict) else None
    if found != kind:
        raise StartpointsError(
            f"{option} {ref}: not a catalog image of kind {kind} ({KIND_LABEL} is {found!r}); "
            "nothing assembled"
        )
    return str(ref.with_digest(descriptor.digest))


def load_base(ref: Reference, stores: Stores) -> BaseImage:
    source = stores.for_ref(ref)
    try:
        manifest_json, descriptor = read.image_manifest(source, ref, stores.limits)
        config = read.image_config(source, ref, manifest_json, stores.limits)
    except StartpointsError as error:
        if str(ref) in str(error):
            raise
        raise StartpointsError(f"base image {ref}: {error}") from None
    layers = tuple(_as_oci(d) for d in read.layer_descriptors(manifest_json, ref))
    return BaseImage(
        image.Base(config=config, layers=layers, name=str(ref), digest=descriptor.digest), ref
    )


def push(
    built: image.Image, target: Reference, base: BaseImage | None, stores: Stores
) -> Reference:
    """Push with the tag last; a tag already naming other content is refused, not moved."""
    store = stores.for_ref(target)
    if target.tag:
        existing = store.resolve(target)
        if existing is not None and existing.digest != built.digest:
            raise TagConflict(
                f"{target} already names {existing.digest}, not {built.digest}: tags are never overwritten"
            )
    for blob in base.image.layers if base else ():
        if not store.has_blob(target, blob):
            store.push_blob(target, blob, base.blob(stores, blob))  # type: ignore[union-attr]
    written = write.write(store, target.at_digest(built.digest) if target.tag else target, built)
    if target.tag:
        store.push_manifest(target, built.manifest, built.descriptor.media_type)
    return target.with_digest(written.descriptor.digest)


def _as_oci(descriptor: Descriptor) -> Descriptor:
    if descriptor.media_type == mediatypes.DOCKER_LAYER_GZIP:
        return Descriptor(mediatypes.OCI_LAYER_GZIP, descriptor.digest, descriptor.size)
    return descriptor
