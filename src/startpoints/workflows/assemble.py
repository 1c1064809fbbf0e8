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
from startpoints.core import catalog, lint, manifest, script_checks, words
from startpoints.core.manifest import Kind
from startpoints.core.problem import Problem
from startpoints.core.provenance import Provenance
from startpoints.core.reference import Reference
from startpoints.errors import (
    CheckerFaults,
    GitError,
    InvalidStartPoint,
    StartpointsError,
    Unreachable,
)
from startpoints.oci.image import Image
from startpoints.oci.stores import Stores
from startpoints.sources.source import Source
from startpoints.workflows import catalog_image, image_lookup, previous

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
    # the catalog this one replaces (folder or image): its start points whose names this one
    # no longer answers are carried, so /manifest still answers them mid-rollout
    previous: str | None = None
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
    base: catalog_image.BaseImage | None = None

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
    replaces = (
        catalog_image.replaced(request.replaces, request.kind, stores) if request.replaces else None
    )
    staging_parent = request.output.parent if request.output else None
    if staging_parent:
        staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".startpoints-assemble-", dir=staging_parent) as tmp:
        staging = Path(tmp) / "catalog"
        opening = None
        with ThreadPoolExecutor(max_workers=1) as beside:
            if text := request.previous:
                # checked before any source is fetched, then read while they are: both wait
                pinned = previous.pin(text, request.kind, stores)
                opening = beside.submit(
                    previous.open_previous, text, pinned, request.kind, stores, Path(tmp)
                )
            fetched = _fetch_all(parsed, staging, stores, request.jobs, say, done)
            try:
                was = opening.result() if opening else None
            except (KeyboardInterrupt, SystemExit):  # a signal: end its registry waits too
                stores.cancelled.set()
                raise
        _set_image_names(staging, parsed, request.image_names)
        if request.script_checks and not any(isinstance(f, StartpointsError) for f in fetched):
            sources_by_index = [(i, src.text) for i, src in enumerate(parsed)]
            report = script_checks.check(staging, sources_by_index, request.kind)
            if report.code is not None:
                raise CheckerFaults(report.lines, report.code)
        entries, provenance, problems = _check(staging, parsed, fetched, request.kind)
        if request.images != "skip" and not problems:
            problems += image_lookup.record(entries, provenance, stores, request.images, say)
        if problems:
            raise InvalidStartPoint(
                f"{words.count(len(problems), 'problem')} in the catalog; nothing written or pushed",
                list(problems),
            )
        carried = previous.carry(was, entries, staging, stores, request.jobs) if was else None
        index = catalog.index_json(request.kind, entries, provenance, replaces, carried)
        (staging / catalog.INDEX).write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
        result = Result(request.kind, index["start_points"])
        if request.tag is not None or request.keep_image:
            base = catalog_image.load_base(request.base, stores) if request.base else None
            result.base = base
            result.built = catalog_image.build(staging, request.kind, provenance, base, replaces)
        if request.tag is not None and result.built is not None:
            result.image = catalog_image.push(result.built, request.tag, result.base, stores)
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
