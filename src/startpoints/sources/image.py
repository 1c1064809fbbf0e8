"""A start-point image as a source: its layers applied in order, /start_point/ taken.

Images made by any tool are read: OCI or Docker media types, an index resolved to
linux/amd64, every layer (whiteouts included), every blob verified by digest and size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from startpoints.core.provenance import Provenance
from startpoints.core.reference import Reference
from startpoints.errors import StartpointsError
from startpoints.oci import read, unpack
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
        if self.ref.tag and self.ref.digest:  # pinned, as `startpoints update` writes it
            tagged = store.resolve(self.ref.with_tag(self.ref.tag))
            if tagged is None or tagged.digest != self.ref.digest:
                now = tagged.digest if tagged else "nothing"
                raise StartpointsError(
                    f"{self.text}: the tag {self.ref.tag} now names {now}, not the pinned digest"
                )
        # Unpacked straight into the index folder: it sits in a staging folder that is
        # thrown away whole if anything fails.
        limits = stores.limits
        budget = unpack.Budget.for_start_point(limits)
        manifest, descriptor = read.unpack_image(store, self.ref, into, budget, limits)
        folder = into / START_POINT
        if not folder.is_dir() or folder.is_symlink():
            raise StartpointsError(f"{self.text}: the image holds no /{START_POINT}/ folder")
        for other in into.iterdir():
            if other.name != START_POINT:
                unpack.remove(other, into)
        annotations = _strings(manifest.get("annotations"))
        if REVISION not in annotations:
            # Images built by docker or buildah carry their metadata as config labels;
            # ours carry it in the manifest, which spares fetching the config.
            config = read.image_config(store, self.ref, manifest, limits)
            inner = config.get("config")
            labels = _strings(inner.get("Labels") if isinstance(inner, dict) else None)
            annotations = {**labels, **annotations}
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


def _strings(value: object) -> dict[str, str]:
    """Annotations or labels from untrusted JSON: only string values, each of sane length."""
    if not isinstance(value, dict):
        return {}
    return {
        k: v
        for k, v in value.items()
        if isinstance(k, str) and isinstance(v, str) and len(v) < 4096
    }
