"""The catalog a new one replaces (`assemble --previous`), kept answerable through a rollout.

While a deploy rolls out, old and new services answer side by side: a client can list
`/names` on an old one and ask `/manifest` of a new one. Display names carry versions, so a
version bump renames a start point, and the new catalog would not know the name the client
was given. So the new catalog carries the previous one's start points whose names it no
longer answers, as they were, under `.previous/` (a dot-folder: cyber-dojo's own discovery,
`**/manifest.json`, skips it) and listed in catalog.json's `previous`. One generation only:
the previous catalog's own previous start points are not carried on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from startpoints.core import catalog, manifest, served, words
from startpoints.core.manifest import Kind
from startpoints.core.reference import parse
from startpoints.core.served import Served
from startpoints.errors import BadReference, InvalidStartPoint, StartpointsError
from startpoints.oci.stores import Stores
from startpoints.oci.unpack import Budget
from startpoints.sources.directory import copy_tree
from startpoints.workflows import catalog_image, serve

FOLDER = ".previous"
OPTION = "--previous"


@dataclass(frozen=True)
class Previous:
    catalog: str  # as given; an image pinned to its digest, so a rebuild finds the same one
    folder: Path
    served: Served


def open_previous(text: str, kind: Kind, stores: Stores, workdir: Path) -> Previous:
    """The previous catalog, a folder or an image (unpacked under `workdir`), checked whole
    as a served catalog is, and of `kind`: before any source is fetched."""
    pinned = text
    if not Path(text).is_dir():
        try:
            ref = parse(text)
        except BadReference as error:
            raise StartpointsError(f"{OPTION} {text}: no such folder, and {error}") from None
        pinned = catalog_image.replaced(ref, kind, stores, OPTION)
    folder = serve.catalog_folder(pinned, stores, workdir)
    try:
        found = served.load(folder)
    except InvalidStartPoint as error:
        many = words.count(len(error.problems), "problem")
        raise InvalidStartPoint(
            f"{OPTION} {text}: {many}; nothing assembled", error.problems
        ) from None
    except StartpointsError as error:
        raise StartpointsError(f"{OPTION} {text}: {error}") from None
    if found.kind != kind:
        raise StartpointsError(f"{OPTION} {text}: a {found.kind} catalog, not {kind}")
    return Previous(pinned, folder, found)


def carry(
    previous: Previous, entries: list[catalog.Entry], staging: Path, stores: Stores
) -> dict[str, Any]:
    """Copy into `staging/.previous/` each previous start point whose name the new catalog
    (`entries`) no longer answers; catalog.json's `previous`: what it was and where it is."""
    names = previous.served.manifests
    gone = catalog.no_longer_served(names, [e.manifest for e in entries])
    listed = {sp["name"]: sp for sp in previous.served.start_points}
    budget = Budget.for_catalog(stores.limits)
    records = []
    for k, name in enumerate(gone):
        where = PurePosixPath(previous.served.files[name]).parent
        copy_tree(previous.folder / where, staging / FOLDER / str(k), budget, f"{OPTION} {name}")
        records.append({"manifest": f"{FOLDER}/{k}/{manifest.MANIFEST}", **listed[name]})
    return {"catalog": previous.catalog, "start_points": records}
