"""The language images a catalog names, looked up in their registries: each must exist
(with --verify-images), and its digest and compressed size are recorded in the catalog, so a
node knows what it must fetch, and under which digest, without asking a registry."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from startpoints.core import catalog, reference
from startpoints.core.problem import Problem
from startpoints.errors import Denied, NotFound, StartpointsError, Unreachable
from startpoints.oci import read
from startpoints.oci.stores import Stores

Say = Callable[[str], None]


def record(
    entries: list[catalog.Entry],
    provenance: list[dict[str, Any]],
    stores: Stores,
    mode: str,
    say: Say,
) -> list[Problem]:
    """Each image_name must exist in its registry; its digest and its compressed size (the
    linux/amd64 image's config and layers: what a node fetches) are recorded, so a puller
    knows what it must fetch without asking a registry. Both come from one GET of the
    manifest the name's tag names (Docker Hub counts it as a pull, as it did the GET this
    replaced, after a HEAD), and one more for an index's linux/amd64 image.
    In "auto" mode a registry that does not answer at once, or refuses (GHCR's private
    packages, no login), is tried once and warned about in one line. A refusal is a hold on
    its registry: its other images are not asked for."""
    from startpoints.core.backoff import Backoff

    problems: list[Problem] = []
    names = sorted({str(e.manifest["image_name"]) for e in entries if "image_name" in e.manifest})
    if mode == "auto":
        once = Backoff(attempts=1)
        stores = Stores(stores.docker_config, once, stores.limits, stores.cancelled)

    refused: dict[str, Denied] = {}  # registry → its refusal, given to its other images

    def look(name: str) -> tuple[str, tuple[str, int] | None | StartpointsError]:
        ref = reference.parse(name)
        ref = ref if ref.identifier else ref.with_tag("latest")
        if (held := refused.get(ref.domain)) is not None:
            return name, held
        try:
            store = stores.for_ref(ref)
            try:
                value, named = read.named_manifest(store, ref, stores.limits)
            except NotFound:
                return name, None
            at = ref.at_digest(named.digest)
            value, _ = read.platform_image(store, at, value, named, stores.limits)
            parts = [read.config_descriptor(value, ref), *read.layer_descriptors(value, ref)]
            return name, (named.digest, sum(d.size for d in parts))
        except Denied as error:
            refused.setdefault(ref.domain, error)
            return name, error
        except StartpointsError as error:
            return name, error

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = dict(pool.map(look, names))
    unreachable: dict[str, StartpointsError] = {}  # registry → why it gave no answer
    for entry, record in zip(entries, provenance, strict=True):
        name = entry.manifest.get("image_name")
        if name is None:
            continue
        outcome = found[str(name)]
        if isinstance(outcome, tuple):
            record["image_digest"], record["image_size"] = outcome
        elif mode == "auto" and isinstance(outcome, Unreachable):
            unreachable.setdefault(outcome.host, outcome)
        elif mode == "auto" and isinstance(outcome, Denied):
            unreachable.setdefault(outcome.registry, outcome)
        else:
            why = "is not in its registry" if outcome is None else f"cannot be checked: {outcome}"
            problems.append(Problem(entry.file, why, "image_name", name, entry.source))
    for error in unreachable.values():
        say(f"warning: {error}: its images' digests and sizes are not recorded")
    return problems
