"""A start-point image as a source: its layers applied in order, /start_point/ taken.

Images made by any tool are read: OCI or Docker media types, an index resolved to
linux/amd64, every layer (whiteouts included), every blob verified by digest and size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from startpoints.core.provenance import Provenance
from startpoints.core.reference import Reference
from startpoints.errors import StartpointsError
from startpoints.oci import read, unpack
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.stores import Stores
from startpoints.sources.source import Say

START_POINT = "start_point"
REVISION = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class ImageSource:
    text: str
    ref: Reference

    def fetch(self, into: Path, stores: Stores, say: Say) -> Provenance:
        store = stores.for_ref(self.ref)
        # Unpacked straight into the index folder: it sits in a staging folder that is
        # thrown away whole if anything fails.
        manifest, descriptor = read.unpack_image(store, self.ref, into, unpack.Budget())
        folder = into / START_POINT
        if not folder.is_dir() or folder.is_symlink():
            raise StartpointsError(f"{self.text}: the image holds no /{START_POINT}/ folder")
        for other in into.iterdir():
            if other.name != START_POINT:
                unpack.remove(other)
        annotations = manifest.get("annotations") or {}
        if REVISION not in annotations:
            # Images built by docker or buildah carry their metadata as config labels;
            # ours carry it in the manifest, which spares fetching the config.
            config = json.loads(
                store.fetch_blob(self.ref, Descriptor.from_json(manifest["config"]))
            )
            annotations = {**((config.get("config") or {}).get("Labels") or {}), **annotations}
        return Provenance(
            source=self.text,
            source_kind="image",
            revision=annotations.get(REVISION),
            repository=annotations.get("org.opencontainers.image.source"),
            start_point_image=str(self.ref.with_tag(self.ref.tag))
            if self.ref.tag
            else self.ref.name,
            start_point_digest=descriptor.digest,
            language_image=annotations.get("org.cyber-dojo.start-point.language-image"),
            created=annotations.get("org.opencontainers.image.created"),
        )
