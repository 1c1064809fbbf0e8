"""Publish: a language repo's commit → its language image tagged sha7 and a tiny start-point image.

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
    image: Reference  # the language image: NAME, NAME:TAG or NAME@DIGEST
    startpoints_repo: Reference | None = None
    sha: str | None = None
    source: str | None = None  # defaults to the repo's origin URL


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
    if not request.image.repository:
        raise StartpointsError(
            f"--image {request.image}: names no repository for manifest.json's image_name"
        )
    language = request.image.with_tag(commit.sha7)
    target = _startpoints_repo(request).with_tag(commit.sha7)
    say(f"publishing {request.repo_dir} at {commit.sha7} as {target}")
    if differing := git.differs(request.repo_dir, commit.sha, START_POINT):
        shown = ", ".join(differing[:5]) + (" ..." if len(differing) > 5 else "")
        say(
            f"warning: {request.repo_dir}: {START_POINT}/ in the work tree differs from "
            f"{commit.sha7} ({shown}); publishing the commit, not the work tree"
        )

    language_store = stores.for_ref(language)
    existing_tag, language_digest = _language_digest(language_store, request.image, language)
    image_name = f"{language.docker_name}:{commit.sha7}"
    built = _build(request.repo_dir, commit, source, f"{image_name}@{language_digest}", image_name)

    store = stores.for_ref(target)
    published = store.resolve(target)
    if published is not None and published.digest != built.digest:
        raise TagConflict(
            f"{target} already names {published.digest}, but {commit.sha7} builds {built.digest}: "
            "tags are never overwritten; commit the change and publish the new sha"
        )
    result = Result(
        start_point=target.with_digest(built.digest),
        language_image=language.with_digest(language_digest),
        revision=commit.sha,
        created=commit.created,
        source=source,
        language_tag_created=existing_tag is None,
        already_published=published is not None,
        blobs_uploaded=0,
        bytes_uploaded=0,
    )
    if published is not None and existing_tag is not None:
        say(f"{target} is already published with this content")
        return result

    written = write.write(store, target.at_digest(built.digest), built)
    if existing_tag is None:
        write.tag(language_store, request.image, language)
        say(f"tagged {language} → {language_digest}")
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


def _startpoints_repo(request: Request) -> Reference:
    repo = request.startpoints_repo or default_startpoints_repo(request.image)
    if repo.tag or repo.digest:
        raise StartpointsError(
            f"--startpoints-repo {repo}: give a repository only; its tag is the sha7"
        )
    return repo


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
    repo: Path, commit: git.Commit, source: str | None, pinned: str, image_name: str
) -> image.Image:
    with tempfile.TemporaryDirectory(prefix="startpoints-publish-") as tmp:
        if not git.is_folder(repo, commit, START_POINT):
            raise StartpointsError(f"{repo}: no {START_POINT}/ folder at commit {commit.sha7}")
        folder = git.export(repo, commit, START_POINT, Path(tmp))
        file = f"{repo / START_POINT / manifest.MANIFEST}@{commit.sha7}"
        loaded, problems = manifest.check_dir(folder, "languages", file)
        if loaded is None or problems:
            raise InvalidStartPoint(
                f"{repo / START_POINT}: {count(len(problems), 'problem')}; nothing published",
                list(problems),
            )
        loaded["image_name"] = image_name
        rewritten = (json.dumps(loaded, indent=2, ensure_ascii=False) + "\n").encode()
        packed = layer.from_dir(folder, START_POINT, replace={manifest.MANIFEST: rewritten})
    annotations = {
        ANNOTATION_REVISION: commit.sha,
        ANNOTATION_CREATED: commit.created,
        ANNOTATION_LANGUAGE_IMAGE: pinned,
    }
    if source:
        annotations[ANNOTATION_SOURCE] = source
    return image.build(
        [packed], created=commit.created, annotations=annotations, history="startpoints publish"
    )
