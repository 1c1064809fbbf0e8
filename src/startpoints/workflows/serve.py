"""Serve: open a catalog (a folder, or a catalog image unpacked once) and answer cyber-dojo's API."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from startpoints.core import catalog, served, strictjson
from startpoints.core.reference import parse
from startpoints.core.served import Served
from startpoints.errors import BadReference, StartpointsError
from startpoints.oci import read, unpack
from startpoints.oci.stores import Stores
from startpoints.workflows.catalog_image import CATALOG_PATH

PORTS = catalog.PORTS


def open_catalog(text: str, stores: Stores, workdir: Path | None = None) -> Served:
    """`text` is a catalog folder or a catalog image reference; an image is unpacked under
    `workdir` (default: a new temporary folder), once."""
    return served.load(catalog_folder(text, stores, workdir))


def built_from(text: str, stores: Stores) -> dict[str, Any]:
    """What the catalog `text` (folder or image) was built from: its kind, its pinned
    sources (catalog.json) and, for an image, the base it is on (its base.name annotation)."""
    with tempfile.TemporaryDirectory(prefix="startpoints-from-") as work:
        index = strictjson.loads_bounded(
            (catalog_folder(text, stores, Path(work)) / "catalog.json").read_text()
        )
    if not isinstance(index, dict) or not isinstance(index.get("sources"), list):
        raise StartpointsError(f"{text}: its catalog.json records no sources (made before 0.2)")
    base = None
    if not Path(text).is_dir():
        ref = parse(text)
        manifest, _ = read.image_manifest(stores.for_ref(ref), ref, stores.limits)
        annotations = manifest.get("annotations")
        if isinstance(annotations, dict):
            base = annotations.get("org.opencontainers.image.base.name")
    records = [s for s in index["sources"] if isinstance(s, dict) and s.get("source")]
    sources = [str(s["source"]) for s in records]
    pins = {str(s["source"]): str(s["digest"]) for s in records if s.get("digest")}
    replaces = index.get("replaces") if isinstance(index.get("replaces"), str) else None
    previous = index.get("previous")
    previous = previous.get("catalog") if isinstance(previous, dict) else None
    return {
        "kind": str(index.get("kind")),
        "sources": sources,
        "pins": pins,
        "base": base,
        "replaces": replaces,
        # an image, by digest, is found again; a folder given then may be gone or changed
        "previous": previous if isinstance(previous, str) and "@sha256:" in previous else None,
    }


def catalog_folder(text: str, stores: Stores, workdir: Path | None = None) -> Path:
    """The catalog folder `text` names, or that an image holds, unpacked under `workdir`."""
    if Path(text).is_dir():
        return Path(text)
    if Path(text).exists():
        raise StartpointsError(f"{text}: not a folder")
    if text.startswith(("/", ".", "~")):
        raise StartpointsError(f"{text}: no such folder")
    try:
        ref = parse(text)
    except BadReference as error:
        raise StartpointsError(
            f"{text}: no such folder, and not an image reference ({error})"
        ) from None
    root = Path(tempfile.mkdtemp(prefix="startpoints-catalog-", dir=workdir))
    budget = unpack.Budget.for_catalog(stores.limits)
    read.unpack_image(stores.for_ref(ref), ref, root, budget, stores.limits)
    folder = root / CATALOG_PATH
    if not folder.is_dir():
        raise StartpointsError(f"{text}: the image holds no /{CATALOG_PATH}/ catalog")
    return folder


def entrypoint(text: str, stores: Stores) -> list[str]:
    """What a container of the catalog image `text` runs (entrypoint, then command): empty
    for a catalog assembled without --base, which holds data only."""
    ref = parse(text)
    store = stores.for_ref(ref)
    manifest, _ = read.image_manifest(store, ref, stores.limits)
    inner = read.image_config(store, ref, manifest, stores.limits).get("config")
    inner = inner if isinstance(inner, dict) else {}
    parts = [*(inner.get("Entrypoint") or []), *(inner.get("Cmd") or [])]
    return [str(p) for p in parts]
