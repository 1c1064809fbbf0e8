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

from concurrent.futures import ThreadPoolExecutor
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
    # unpacked from an image into assemble's own staging: its files may be linked, not copied
    unpacked: bool = False


def pin(text: str, kind: Kind, stores: Stores) -> str:
    """`text` as it will be read: a folder as given, an image pinned to its digest once its
    manifest says it is a catalog of `kind` (one GET: before any source is fetched)."""
    if Path(text).is_dir():
        return text
    try:
        ref = parse(text)
    except BadReference as error:
        raise StartpointsError(f"{OPTION} {text}: no such folder, and {error}") from None
    return catalog_image.replaced(ref, kind, stores, OPTION)


def open_previous(text: str, pinned: str, kind: Kind, stores: Stores, workdir: Path) -> Previous:
    """The previous catalog `pinned` (pin), an image unpacked under `workdir`, checked whole
    as a served catalog is, and of `kind`."""
    folder = serve.catalog_folder(pinned, stores, workdir)
    try:
        found = served.load(folder, kind)
    except InvalidStartPoint as error:
        many = words.count(len(error.problems), "problem")
        raise InvalidStartPoint(
            f"{OPTION} {text}: {many}; nothing assembled", error.problems
        ) from None
    except StartpointsError as error:
        raise StartpointsError(f"{OPTION} {text}: {error}") from None
    if found.kind != kind:
        raise StartpointsError(f"{OPTION} {text}: a {found.kind} catalog, not {kind}")
    return Previous(pinned, folder, found, unpacked=not Path(pinned).is_dir())


def carry(
    previous: Previous, entries: list[catalog.Entry], staging: Path, stores: Stores, jobs: int
) -> dict[str, Any]:
    """Copy into `staging/.previous/` each previous start point whose name the new catalog
    (`entries`) no longer answers, on `jobs` threads (creating files is most of the cost, as
    it is for the sources); catalog.json's `previous`: what it was and where it is."""
    names = previous.served.manifests
    gone = catalog.no_longer_served(names, [e.manifest for e in entries])
    listed = {sp["name"]: sp for sp in previous.served.start_points}

    def copy(k: int) -> dict[str, Any]:
        name = gone[k]
        where = PurePosixPath(previous.served.files[name]).parent
        budget = Budget.for_start_point(stores.limits)
        into = staging / FOLDER / str(k)
        copy_tree(previous.folder / where, into, budget, f"{OPTION} {name}", link=previous.unpacked)
        return {"manifest": f"{FOLDER}/{k}/{manifest.MANIFEST}", **listed[name]}

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(gone)))) as pool:
        records = list(pool.map(copy, range(len(gone))))
    return {"catalog": previous.catalog, "start_points": records}
