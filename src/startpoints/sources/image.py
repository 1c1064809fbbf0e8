"""A start-point image as a source: its layers applied in order, /start_point/ taken.

Images made by any tool are read: OCI or Docker media types, an index resolved to
linux/amd64, every layer (whiteouts included), every blob verified by digest and size.
"""

from __future__ import annotations

import json
import shutil
import tempfile
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


@dataclass(frozen=True)
class ImageSource:
    text: str
    ref: Reference

    def fetch(self, into: Path, stores: Stores, say: Say) -> Provenance:
        store = stores.for_ref(self.ref)
        manifest, descriptor = read.image_manifest(store, self.ref)
        config = json.loads(store.fetch_blob(self.ref, Descriptor.from_json(manifest["config"])))
        with tempfile.TemporaryDirectory(prefix="startpoints-image-", dir=into.parent) as tmp:
            root = Path(tmp)
            budget = unpack.Budget()
            for i, layer in enumerate(manifest.get("layers", [])):
                blob = store.fetch_blob(self.ref, Descriptor.from_json(layer))
                unpack.apply(blob, root, where=f"{self.text} layer {i}", budget=budget)
            folder = root / START_POINT
            if not folder.is_dir() or folder.is_symlink():
                raise StartpointsError(f"{self.text}: the image holds no /{START_POINT}/ folder")
            into.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), into / START_POINT)
        labels = (config.get("config") or {}).get("Labels") or {}
        annotations = {**labels, **manifest.get("annotations", {})}
        return Provenance(
            source=self.text,
            source_kind="image",
            revision=annotations.get("org.opencontainers.image.revision"),
            repository=annotations.get("org.opencontainers.image.source"),
            start_point_image=str(self.ref.with_tag(self.ref.tag))
            if self.ref.tag
            else self.ref.name,
            start_point_digest=descriptor.digest,
            language_image=annotations.get("org.cyber-dojo.start-point.language-image"),
            created=annotations.get("org.opencontainers.image.created"),
        )
