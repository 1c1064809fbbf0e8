"""The catalog as cyber-dojo serves it, computed once from a catalog folder.

A served manifest has `visible_filenames` replaced by `visible_files` with each file's
content, `filename_extension` always a list, and `rag_lambda` replaced by its file's
content. Names follow cyber-dojo's rule (catalog.served_names).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from startpoints.core import catalog, lint, manifest
from startpoints.core.reference import parse
from startpoints.errors import BadReference, StartpointsError

PROVENANCE_FIELDS = (
    "image_digest",
    "start_point_image",
    "start_point_digest",
    "source",
    "revision",
    "index",
)


@dataclass(frozen=True)
class Served:
    kind: str
    manifests: dict[str, dict[str, Any]]  # served name → served manifest
    start_points: list[dict[str, Any]]
    aliases: dict[str, str] = field(default_factory=dict)  # raw display_name → served name

    @property
    def names(self) -> list[str]:
        return sorted(self.manifests)

    @property
    def image_names(self) -> list[str]:
        return sorted(
            {str(m["image_name"]) for m in self.manifests.values() if m.get("image_name")}
        )

    def manifest(self, name: str) -> dict[str, Any] | None:
        """By served name first, then by raw display_name, as cyber-dojo looks them up."""
        return self.manifests.get(name) or self.manifests.get(self.aliases.get(name, ""))

    @property
    def identity(self) -> str:
        """A digest of everything served, to key state (a pre-pull marker) to this catalog."""
        return (
            "sha256:"
            + hashlib.sha256(json.dumps(self.manifests, sort_keys=True).encode()).hexdigest()
        )


def load(folder: Path) -> Served:
    """Read an assembled catalog folder (catalog.json beside 0/ 1/ ...), or any folder of start
    points (no provenance then)."""
    index_path = folder / catalog.INDEX
    if index_path.is_file():
        index = json.loads(index_path.read_text())
        kind = str(index.get("kind", "languages"))
        records = index.get("start_points", [])
        paths = [folder / r["manifest"] for r in records]
    else:
        kind, records = "languages", []
        paths = [d / manifest.MANIFEST for d in lint.find_start_points(folder)]
        records = [{"manifest": str(p.relative_to(folder))} for p in paths]
    raw = [_read(path) for path in paths]
    names = catalog.served_names(raw)
    manifests: dict[str, dict[str, Any]] = {}
    aliases: dict[str, str] = {}
    start_points = []
    for name, loaded, path, record in zip(names, raw, paths, records, strict=True):
        served = serve_manifest(loaded, path.parent)
        served["display_name"] = name
        if name in manifests:
            raise StartpointsError(f"{path}: served name {name!r} is not unique")
        manifests[name] = served
        aliases[str(loaded.get("display_name"))] = name
        start_points.append(_start_point(name, loaded, record))
    return Served(kind, manifests, sorted(start_points, key=lambda s: s["name"]), aliases)


def serve_manifest(loaded: dict[str, Any], folder: Path) -> dict[str, Any]:
    served: dict[str, Any] = {}
    for key, value in loaded.items():
        if key == "visible_filenames":
            served["visible_files"] = {name: {"content": _text(folder / name)} for name in value}
        elif key == "filename_extension":
            served[key] = [value] if isinstance(value, str) else list(value)
        elif key == "rag_lambda":
            served[key] = _text(folder / value)
        else:
            served[key] = value
    return served


def _start_point(name: str, loaded: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    image_name = loaded.get("image_name")
    entry = {"name": name, "display_name": loaded.get("display_name"), "image_name": image_name}
    entry.update({key: record.get(key) for key in PROVENANCE_FIELDS})
    entry["source"] = record.get("source")
    if entry["image_digest"] is None and image_name:
        entry["image_digest"] = _digest_from(record.get("language_image"), str(image_name))
    return entry


def _digest_from(pinned: Any, image_name: str) -> str | None:
    """The digest in a start-point image's `NAME:sha7@sha256:...` annotation, when it names
    the same image the manifest does."""
    if not isinstance(pinned, str):
        return None
    try:
        ref = parse(pinned)
        if ref.digest and str(ref.with_tag(ref.tag or "")) == image_name:
            return ref.digest
    except BadReference:
        pass
    return None


def _read(path: Path) -> dict[str, Any]:
    loaded, problems = manifest.load(path, str(path))
    if loaded is None:
        raise StartpointsError(f"{path}: {problems[0].reason}")
    return loaded


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise StartpointsError(f"{path}: cannot be served: {error.strerror}") from None
