"""Assemble: many sources → one validated catalog, written as a folder and/or pushed as an image.

Sources are fetched concurrently into a staging folder as index folders 0/ 1/ 2/ ...;
every start point and the catalog as a whole are checked; only then is anything written
(the output folder replaced whole) or pushed (the catalog image, tag last).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from startpoints import sources
from startpoints.core import catalog, lint, manifest, reference, script_checks, words
from startpoints.core.manifest import Kind
from startpoints.core.problem import Problem
from startpoints.core.provenance import Provenance
from startpoints.core.reference import Reference
from startpoints.errors import (
    CheckerFaults,
    Denied,
    GitError,
    InvalidStartPoint,
    StartpointsError,
    TagConflict,
    Unreachable,
)
from startpoints.oci import image, layer, mediatypes, read, write
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.image import Image
from startpoints.oci.stores import Stores
from startpoints.sources.source import Source

CATALOG_PATH = "startpoints/catalog"  # where a catalog image holds the catalog folder
KIND_LABEL = "org.cyber-dojo.start-point"
REPLACES = "org.cyber-dojo.start-points.replaces"  # the catalog image this one replaced
EPOCH = "1970-01-01T00:00:00Z"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Request:
    sources: Sequence[str]
    kind: Kind = "languages"
    output: Path | None = None
    tag: Reference | None = None
    base: Reference | None = None
    # Language images: "verify" (each must be found), "auto" (recorded where its registry
    # answers at once; an unreachable one is a warning) or "skip" (not looked at).
    images: str = "skip"
    jobs: int = 8
    image_names: Mapping[str, str] = field(default_factory=dict)  # source → image_name to write
    keep_image: bool = False  # build the catalog image even with no tag (create loads it)
    # a folder is read as `git clone` reads it (its committed master, else main), as
    # cyber-dojo's create script does, not as the work tree
    folders_as_git: bool = False
    pins: Mapping[str, str] = field(default_factory=dict)  # image source → digest (parse_sources)
    replaces: Reference | None = None  # the catalog image in production, recorded for rollback
    # create: the start points are first checked as cyber-dojo's create script checks them,
    # its faults reported in its words and with its exit code (core/script_checks.py)
    script_checks: bool = False


@dataclass
class Result:
    kind: Kind
    start_points: list[dict[str, Any]] = field(default_factory=list)
    output: Path | None = None
    image: Reference | None = None
    built: Image | None = None  # the catalog image, pushed or not
    base: BaseImage | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start_points": self.start_points,
            "output": str(self.output) if self.output else None,
            "image": str(self.image) if self.image else None,
        }


def assemble(
    request: Request,
    stores: Stores,
    say: Say = lambda _: None,
    done: Callable[[str, str | None], None] = lambda _s, _e: None,
) -> Result:
    """`done(source, error)` is called as each source finishes, for progress."""
    parsed = parse_sources(
        request.sources, folders_as_git=request.folders_as_git, pins=request.pins
    )
    replaces = _replaced(request.replaces, request.kind, stores) if request.replaces else None
    staging_parent = request.output.parent if request.output else None
    if staging_parent:
        staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".startpoints-assemble-", dir=staging_parent) as tmp:
        staging = Path(tmp) / "catalog"
        fetched = _fetch_all(parsed, staging, stores, request.jobs, say, done)
        _set_image_names(staging, parsed, request.image_names)
        if request.script_checks and not any(isinstance(f, StartpointsError) for f in fetched):
            sources_by_index = [(i, src.text) for i, src in enumerate(parsed)]
            report = script_checks.check(staging, sources_by_index, request.kind)
            if report.code is not None:
                raise CheckerFaults(report.lines, report.code)
        entries, provenance, problems = _check(staging, parsed, fetched, request.kind)
        if request.images != "skip" and not problems:
            problems += _check_images(entries, provenance, stores, request.images, say)
        if problems:
            raise InvalidStartPoint(
                f"{words.count(len(problems), 'problem')} in the catalog; nothing written or pushed",
                list(problems),
            )
        index = catalog.index_json(request.kind, entries, provenance, replaces)
        (staging / catalog.INDEX).write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
        result = Result(request.kind, index["start_points"])
        if request.tag is not None or request.keep_image:
            result.base = load_base(request.base, stores) if request.base else None
            result.built = catalog_image(staging, request.kind, provenance, result.base, replaces)
        if request.tag is not None and result.built is not None:
            result.image = _push_catalog_image(result.built, request.tag, result.base, stores)
            say(f"pushed {result.image}")

        if request.output is not None:
            _replace_folder(staging, request.output)
            result.output = request.output
            say(f"wrote {request.output}: {words.count(len(entries), 'start point')}")
    return result


def parse_sources(
    texts: Sequence[str], *, folders_as_git: bool = False, pins: Mapping[str, str] | None = None
) -> list[Source]:
    """Each text as a source; every bad or repeated one named at once, before any I/O.
    `pins`: a start-point image source's text → the digest it must be fetched at (a rebuild
    from a catalog), its text kept as given, so the catalog records what it did before."""
    if not texts:
        raise StartpointsError("no sources given")
    seen: set[str] = set()
    problems: list[Problem] = []
    parsed: list[Source] = []
    for text in texts:
        if text in seen:
            problems.append(Problem(text, "is given more than once"))
        seen.add(text)
        try:
            source = sources.parse(text, folders_as_git=folders_as_git)
            if pins and text in pins and isinstance(getattr(source, "ref", None), Reference):
                source = dataclasses.replace(source, ref=source.ref.with_digest(pins[text]))  # type: ignore[type-var, attr-defined]
            parsed.append(source)
        except StartpointsError as error:
            problems.append(Problem(text, str(error).removeprefix(f"{text}: ")))
    if problems:
        raise InvalidStartPoint(
            f"{words.count(len(problems), 'bad source')}; nothing fetched", list(problems)
        )
    return parsed


def _fetch_all(
    parsed: list[Source],
    staging: Path,
    stores: Stores,
    jobs: int,
    say: Say,
    done: Callable[[str, str | None], None],
) -> list[Provenance | StartpointsError]:
    staging.mkdir()

    def fetch(i: int) -> Provenance | StartpointsError:
        src = parsed[i]
        try:
            provenance = src.fetch(staging / str(i), stores, say)
        except StartpointsError as error:
            done(src.text, str(error))
            return error
        done(src.text, None)
        return provenance

    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(parsed))))
    try:
        return list(pool.map(fetch, range(len(parsed))))
    except BaseException:
        # A signal (SystemExit, KeyboardInterrupt): end the registry waits, drop what has not
        # started, and let the fetches in flight finish before staging is removed.
        stores.cancelled.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


def _set_image_names(staging: Path, parsed: list[Source], image_names: Mapping[str, str]) -> None:
    """Point the manifests of some sources at other language images (create --build-images)."""
    for i, src in enumerate(parsed):
        if src.text not in image_names or not (staging / str(i)).is_dir():
            continue
        for folder in lint.find_start_points(staging / str(i)):
            path = folder / manifest.MANIFEST
            loaded, problems = manifest.load(path, str(path))
            if loaded is not None:
                loaded["image_name"] = image_names[src.text]
                path.write_text(json.dumps(loaded, indent=2, ensure_ascii=False) + "\n")


def _check(
    staging: Path, parsed: list[Source], fetched: list[Provenance | StartpointsError], kind: Kind
) -> tuple[list[catalog.Entry], list[dict[str, Any]], list[Problem]]:
    entries: list[catalog.Entry] = []
    provenance: list[dict[str, Any]] = []
    problems: list[Problem] = []
    unreachable: dict[str, tuple[Unreachable, list[str]]] = {}
    for i, (src, outcome) in enumerate(zip(parsed, fetched, strict=True)):
        if isinstance(outcome, Unreachable):  # one problem per registry, not one per source
            unreachable.setdefault(outcome.host, (outcome, []))[1].append(src.text)
            continue
        if isinstance(outcome, StartpointsError):
            said = outcome.output if isinstance(outcome, GitError) else None
            checkout = isinstance(outcome, GitError) and outcome.checkout
            problems.append(
                Problem(
                    src.text,
                    f"cannot be fetched: {outcome}",
                    rule="unfetched",
                    detail=said,
                    checkout=checkout,
                )
            )
            continue
        folders = lint.find_start_points(staging / str(i))
        if not folders:
            problems.append(Problem(src.text, "holds no manifest.json", rule="no_manifest"))
        for folder in folders:
            file = folder.relative_to(staging).joinpath(manifest.MANIFEST).as_posix()
            loaded, found = manifest.check_dir(folder, kind, file)
            problems += [p.from_source(src.text) for p in found]
            if loaded is not None:
                entries.append(catalog.Entry(file, loaded, src.text))
                provenance.append({"index": i, **outcome.as_json(), "image_digest": None})
    for host, (error, texts) in unreachable.items():
        shown = ", ".join(texts[:3]) + (f" and {len(texts) - 3} more" if len(texts) > 3 else "")
        problems.append(
            Problem(
                host,
                f"unreachable ({error.cause}): {words.count(len(texts), 'source')} not fetched: {shown}",
                rule="unfetched",
            )
        )
    problems += catalog.problems(entries)
    return entries, provenance, problems


def _check_images(
    entries: list[catalog.Entry],
    provenance: list[dict[str, Any]],
    stores: Stores,
    mode: str,
    say: Say,
) -> list[Problem]:
    """Each image_name must exist in its registry; its digest and its compressed size (the
    linux/amd64 image's config and layers: what a node fetches) are recorded, so a puller
    knows what it must fetch without asking a registry. The digest is a HEAD, which Docker
    Hub does not count; the size needs the image manifest, a GET, which it counts as a pull.
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
            found = store.resolve(ref)
            if found is None:
                return name, None
            value, _ = read.image_manifest(store, ref.at_digest(found.digest), stores.limits)
            parts = [read.config_descriptor(value, ref), *read.layer_descriptors(value, ref)]
            return name, (found.digest, sum(d.size for d in parts))
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


@dataclass(frozen=True)
class BaseImage:
    """A base image and where its blobs are, so they can be copied or loaded."""

    image: image.Base
    ref: Reference

    def blob(self, stores: Stores, descriptor: Descriptor) -> bytes:
        return stores.for_ref(self.ref).fetch_blob(self.ref, descriptor)


def catalog_image(
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


def _replaced(ref: Reference, kind: Kind, stores: Stores) -> str:
    """`ref` pinned to its digest, once it is found to be a catalog image of `kind`: a
    rollback target must be one (checked before any source is fetched)."""
    manifest_json, descriptor = read.image_manifest(stores.for_ref(ref), ref, stores.limits)
    annotations = manifest_json.get("annotations")
    found = annotations.get(KIND_LABEL) if isinstance(annotations, dict) else None
    if found != kind:
        raise StartpointsError(
            f"--replaces {ref}: not a catalog image of kind {kind} ({KIND_LABEL} is {found!r}); "
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


def _push_catalog_image(
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


def _replace_folder(staging: Path, output: Path) -> None:
    """Put the complete new catalog where the old one was: renames only, so readers see the
    old catalog or the new one, never a half-written one."""
    if output.exists() and not (output / catalog.INDEX).exists() and any(output.iterdir()):
        raise StartpointsError(f"{output}: exists and is not a catalog; refusing to replace it")
    old = output.with_name(f".{output.name}.old-{os.getpid()}")
    if output.exists():
        os.rename(output, old)
    os.rename(staging, output)
    shutil.rmtree(old, ignore_errors=True)
