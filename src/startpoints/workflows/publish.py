"""Publish: a start point repo's commit → a tiny start-point image, and its language image pinned.

Two layouts: one repository per language (`--image`: the language image is tagged with this
commit's sha7 and image_name rewritten to that tag), or cyber-dojo's two (no `--image`: image_name
is already pinned to the language repository's own tag, which must exist; nothing is tagged).

Every check runs before anything is written; then the start-point image's blobs and
manifest (by digest), then the language image's sha7 tag, then the start-point tag.
A failure at any step leaves no new tag naming half-pushed content.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from startpoints import git
from startpoints.core import manifest, reference
from startpoints.core.reference import Reference
from startpoints.core.words import count
from startpoints.errors import InvalidStartPoint, NotFound, StartpointsError, TagConflict
from startpoints.oci import image, layer, write
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.store import Store
from startpoints.oci.stores import Stores

START_POINT = "start_point"
STARTPOINTS_ORG = "cyberdojostartpoints"
ANNOTATION_REVISION = "org.opencontainers.image.revision"
ANNOTATION_SOURCE = "org.opencontainers.image.source"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_LANGUAGE_IMAGE = "org.cyber-dojo.start-point.language-image"


@dataclass(frozen=True)
class Request:
    repo_dir: Path
    # The language image: NAME, NAME:TAG or NAME@DIGEST, tagged NAME:sha7 of this repo's commit
    # (one repository per language). None: manifest.json's image_name is already pinned to
    # the language repository's tag (cyber-dojo's two repositories per language).
    image: Reference | None = None
    startpoints_repo: Reference | None = None
    sha: str | None = None
    source: str | None = None  # defaults to the repo's origin URL


@dataclass(frozen=True)
class Pin:
    """The language image a start point names: its image_name, digest, and the tag to make."""

    image: Reference  # NAME:TAG
    image_name: str  # as manifest.json says it, once published
    digest: str
    rewrite: bool  # image_name is rewritten (one-repository flow), else kept as committed
    to_tag: Reference | None = None  # tag `image` from this reference, when it does not exist yet


@dataclass(frozen=True)
class Result:
    start_point: Reference  # <startpoints-repo>:sha7@sha256:...
    language_image: Reference  # NAME:sha7@sha256:...
    revision: str
    created: str
    source: str | None
    language_tag_created: bool
    already_published: bool
    blobs_uploaded: int
    bytes_uploaded: int

    def as_json(self) -> dict[str, Any]:
        return {
            "start_point_image": str(self.start_point),
            "language_image": str(self.language_image),
            "revision": self.revision,
            "created": self.created,
            "source": self.source,
            "language_tag_created": self.language_tag_created,
            "already_published": self.already_published,
            "blobs_uploaded": self.blobs_uploaded,
            "bytes_uploaded": self.bytes_uploaded,
        }


def default_startpoints_repo(language_image: Reference) -> Reference:
    """NAME's registry (or layout) + cyberdojostartpoints/ + NAME's last path part."""
    if not language_image.repository:
        raise StartpointsError(f"{language_image}: names no repository; give --startpoints-repo")
    if language_image.is_layout:  # the repository inside a layout may name a registry too
        inner = reference.parse(language_image.repository)
        return language_image.with_repository(default_startpoints_repo(inner).name)
    return language_image.with_repository(f"{STARTPOINTS_ORG}/{language_image.last_path_part}")


def publish(
    request: Request, stores: Stores, say: Callable[[str], None] = lambda _: None
) -> Result:
    commit = git.resolve(request.repo_dir, request.sha or "HEAD")
    source = request.source or git.origin_url(request.repo_dir)
    if request.image is not None and not request.image.repository:
        raise StartpointsError(
            f"--image {request.image}: names no repository for manifest.json's image_name"
        )
    if request.startpoints_repo is not None and request.startpoints_repo.identifier:
        raise StartpointsError(
            f"--startpoints-repo {request.startpoints_repo}: give a repository only; its tag is the sha7"
        )
    with tempfile.TemporaryDirectory(prefix="startpoints-publish-") as tmp:
        folder, loaded = _checked(request.repo_dir, commit, Path(tmp))
        pin = _pin(request, stores, commit, loaded)
        repo = request.startpoints_repo or default_startpoints_repo(pin.image)
        target = repo.with_tag(commit.sha7)
        say(f"publishing {request.repo_dir} at {commit.sha7} as {target}")
        if differing := git.differs(request.repo_dir, commit.sha, START_POINT):
            shown = ", ".join(differing[:5]) + (" ..." if len(differing) > 5 else "")
            say(
                f"warning: {request.repo_dir}: {START_POINT}/ in the work tree differs from "
                f"{commit.sha7} ({shown}); publishing the commit, not the work tree"
            )
        built = _build(folder, loaded, pin, commit, source)

    store = stores.for_ref(target)
    published = store.resolve(target)
    if published is not None and published.digest != built.digest:
        raise TagConflict(
            f"{target} already names {published.digest}, but {commit.sha7} builds {built.digest}: "
            "tags are never overwritten; commit the change and publish the new sha"
        )
    result = Result(
        start_point=target.with_digest(built.digest),
        language_image=pin.image.with_digest(pin.digest),
        revision=commit.sha,
        created=commit.created,
        source=source,
        language_tag_created=pin.to_tag is not None,
        already_published=published is not None,
        blobs_uploaded=0,
        bytes_uploaded=0,
    )
    if published is not None and pin.to_tag is None:
        say(f"{target} is already published with this content")
        return result

    written = write.write(store, target.at_digest(built.digest), built)
    if pin.to_tag is not None:
        write.tag(stores.for_ref(pin.image), pin.to_tag, pin.image)
        say(f"tagged {pin.image} → {pin.digest}")
    raced = store.resolve(target)  # registries have no compare-and-set: look once more, last
    if raced is not None and raced.digest != built.digest:
        raise TagConflict(
            f"{target} was tagged {raced.digest} by someone else while publishing; left as it is"
        )
    store.push_manifest(target, built.manifest, built.descriptor.media_type)
    say(f"pushed {target}: {written.blobs_uploaded} blobs, {written.bytes_uploaded} bytes uploaded")

    return replace(
        result, blobs_uploaded=written.blobs_uploaded, bytes_uploaded=written.bytes_uploaded
    )


def _checked(repo: Path, commit: git.Commit, tmp: Path) -> tuple[Path, dict[str, Any]]:
    """start_point/ at `commit`, exported into `tmp`, and its manifest: refused unless clean."""
    if not git.is_folder(repo, commit, START_POINT):
        raise StartpointsError(f"{repo}: no {START_POINT}/ folder at commit {commit.sha7}")
    folder = git.export(repo, commit, START_POINT, tmp)
    file = f"{repo / START_POINT / manifest.MANIFEST}@{commit.sha7}"
    loaded, problems = manifest.check_dir(folder, "languages", file)
    if loaded is None or problems:
        raise InvalidStartPoint(
            f"{repo / START_POINT}: {count(len(problems), 'problem')}; nothing published",
            list(problems),
        )
    return folder, loaded


def _pin(request: Request, stores: Stores, commit: git.Commit, loaded: dict[str, Any]) -> Pin:
    if request.image is None:
        return _pinned_already(request.repo_dir, str(loaded["image_name"]), stores)
    language = request.image.with_tag(commit.sha7)
    existing, digest = _language_digest(stores.for_ref(language), request.image, language)
    image_name = f"{language.docker_name}:{commit.sha7}"
    to_tag = request.image if existing is None else None
    return Pin(language, image_name, digest, rewrite=True, to_tag=to_tag)


def _pinned_already(repo: Path, image_name: str, stores: Stores) -> Pin:
    """Two repositories per language: image_name must name an existing, fixed tag."""
    where = f"{repo / START_POINT / manifest.MANIFEST} image_name {image_name!r}"
    try:
        named = reference.parse(image_name)
    except StartpointsError as error:
        raise StartpointsError(f"{where}: {error}") from None
    if named.is_layout or named.digest or not named.tag or named.tag == "latest":
        raise StartpointsError(
            f"{where}: without --image, image_name must be pinned to the language image's "
            "own tag (NAME:sha7), not latest or no tag; nothing published"
        )
    found = stores.for_ref(named).resolve(named)
    if found is None:
        raise NotFound(f"{where}: no such tag in its registry; nothing published")
    return Pin(named, image_name, found.digest, rewrite=False)


def _language_digest(
    store: Store, given: Reference, language: Reference
) -> tuple[Descriptor | None, str]:
    """The digest NAME:sha7 names when done, and its current descriptor (None: to be tagged)."""
    existing = store.resolve(language)
    if given.identifier in (None, language.tag):
        if existing is None:
            raise NotFound(
                f"language image {language} not found: push it first, or name the image to tag with --image NAME:TAG"
            )
        return existing, existing.digest
    source = store.resolve(given)
    if source is None:
        raise NotFound(f"language image {given} not found")
    if existing is not None and existing.digest != source.digest:
        raise TagConflict(
            f"{language} already names {existing.digest}, not {source.digest} ({given}): tags are never overwritten"
        )
    return existing, source.digest


def _build(
    folder: Path, loaded: dict[str, Any], pin: Pin, commit: git.Commit, source: str | None
) -> image.Image:
    replaced: dict[str, bytes] = {}
    if pin.rewrite:
        loaded = {**loaded, "image_name": pin.image_name}
        replaced[manifest.MANIFEST] = (
            json.dumps(loaded, indent=2, ensure_ascii=False) + "\n"
        ).encode()
    packed = layer.from_dir(folder, START_POINT, replace=replaced)
    annotations = {
        ANNOTATION_REVISION: commit.sha,
        ANNOTATION_CREATED: commit.created,
        ANNOTATION_LANGUAGE_IMAGE: f"{pin.image_name}@{pin.digest}",
    }
    if source:
        annotations[ANNOTATION_SOURCE] = source
    return image.build(
        [packed], created=commit.created, annotations=annotations, history="startpoints publish"
    )
