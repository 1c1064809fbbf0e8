"""Serve: open a catalog (a folder, or a catalog image unpacked once) and answer cyber-dojo's API."""

from __future__ import annotations

import tempfile
from pathlib import Path

from startpoints.core import catalog, served
from startpoints.core.reference import parse
from startpoints.core.served import Served
from startpoints.errors import BadReference, StartpointsError
from startpoints.oci import read, unpack
from startpoints.oci.stores import Stores
from startpoints.workflows.assemble import CATALOG_PATH

PORTS = catalog.PORTS


def open_catalog(text: str, stores: Stores, workdir: Path | None = None) -> Served:
    """`text` is a catalog folder or a catalog image reference; an image is unpacked under
    `workdir` (default: a new temporary folder), once."""
    if Path(text).is_dir():
        return served.load(Path(text))
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
    return served.load(folder)


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
