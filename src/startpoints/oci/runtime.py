"""A node's image runtime as the pre-pull sees it: a Docker Engine API (docker, podman) or a
CRI ImageService (containerd, CRI-O), each behind the same small interface.

An image a catalog names is a tag and the digest the catalog recorded. `pull` fetches the
digest and gives it the tag, so every node holds what the catalog recorded even after the
tag was moved in the registry; `held` says what the node holds under a tag (the digests it
was pulled by), so a move is seen without asking the registry.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from startpoints.errors import Denied, InUse, NotFound, StartpointsError, StoreError

Progress = Callable[[int], None]  # bytes of an image fetched so far
TAG_SEEN = 10.0  # seconds containerd's CRI may take to show a tag made through its images API


@dataclass(frozen=True)
class Held:
    """What the node holds under a tag."""

    id: str
    digests: frozenset[str]  # the manifest digests it was pulled by
    pinned: bool | None = None  # None: the runtime has no pinning (Docker: no image GC)


@dataclass(frozen=True)
class Local:
    """An image in the node's runtime."""

    id: str
    tags: tuple[str, ...]
    size: int  # bytes on the node, as the runtime says
    in_use: bool = False


class Runtime(Protocol):
    """Where images are pulled to."""

    def held(self, image: str) -> Held | None:
        """What the node holds under the tag `image`, or None."""
        ...

    def pull(self, image: str, digest: str | None, progress: Progress) -> None:
        """Pull `image` (by `digest` where given, then tagged `image`), calling `progress` as
        its bytes arrive where the runtime says."""
        ...

    def pin(self, image: str, pinned: bool) -> None:
        """Keep `image` from the node's image GC, or let it go (a no-op where there is none)."""
        ...

    def local(self) -> list[Local]:
        """Every image on the node, with whether a container uses it."""
        ...

    def remove(self, image: Local) -> None:
        """Remove it; InUse when a container uses it."""
        ...


def digests_of(names: list[str]) -> frozenset[str]:
    """The digests of `repo@sha256:…` names."""
    return frozenset(name.rpartition("@")[2] for name in names if "@" in name)


def by_digest(image: str, digest: str) -> str:
    """`repo:tag` and `sha256:…` as `repo@sha256:…`."""
    from startpoints.core.reference import parse

    return str(parse(image).at_digest(digest))


class EngineRuntime:
    """Pulls through a Docker Engine API (docker, podman), as on a commander-started server.
    dockerd collects no images by itself: nothing to pin."""

    def __init__(self, endpoint: str | None, docker_config: Path | None) -> None:
        from startpoints.oci.engine import Engine

        self.engine = Engine(endpoint)
        self.docker_config = docker_config

    def held(self, image: str) -> Held | None:
        found = self.engine.inspect(image)
        return Held(found[0], digests_of(found[1])) if found else None

    def pull(self, image: str, digest: str | None, progress: Progress) -> None:
        found = _credentials(image, self.docker_config)
        auth = {"username": found[0], "password": found[1]} if found else None
        with _denied(image, found is not None):
            if digest is None:
                self.engine.pull(image, auth, progress)
                return
            pinned = by_digest(image, digest)
            self.engine.pull(pinned, auth, progress)
        self.engine.tag(pinned, image)

    def pin(self, image: str, pinned: bool) -> None:
        pass

    def local(self) -> list[Local]:
        used = self.engine.in_use()
        return [Local(i, tuple(tags), size, i in used) for i, tags, _, size in self.engine.listed()]

    def remove(self, image: Local) -> None:
        for tag in image.tags:  # the engine untags; the image goes with its last tag
            self.engine.remove(tag)


class CriRuntime:
    """Pulls through a node's CRI ImageService (containerd, CRI-O), as kubelet does; tags and
    pins through containerd's images service (CRI-O has none: Unsupported)."""

    def __init__(self, endpoint: str, docker_config: Path | None) -> None:
        from startpoints.oci.cri import Cri

        self.cri = Cri(endpoint)
        self.docker_config = docker_config

    def held(self, image: str) -> Held | None:
        from startpoints.oci.cri import PINNED

        found = self.cri.status(image)
        if found is None:
            return None
        labels = self.cri.labels(image) or {}
        return Held(found[0], digests_of(found[2]), labels.get(PINNED) == "pinned")

    def pull(self, image: str, digest: str | None, progress: Progress) -> None:
        # the CRI's PullImage is one call that answers when done: no bytes on the way
        credentials = _credentials(image, self.docker_config)
        with _denied(image, credentials is not None):
            if digest is None:
                self.cri.pull(image, credentials)
                return
            pinned = by_digest(image, digest)
            self.cri.pull(pinned, credentials)
        self.cri.tag(_cri_name(image), _cri_name(pinned))
        # containerd's CRI learns of a tag from its event stream, a moment later: wait for it
        deadline = time.monotonic() + TAG_SEEN
        while digest not in digests_of((self.cri.status(image) or ("", [], []))[2]):
            if time.monotonic() > deadline:
                raise StoreError(
                    f"{image}: tagged, yet the CRI does not show it after {TAG_SEEN:g} s"
                )
            time.sleep(0.01)

    def pin(self, image: str, pinned: bool) -> None:
        """Every name of the image `image` names: the kubelet removes an image by id, so
        one unpinned name would leave it unguarded."""
        found = self.cri.status(image)
        if found is not None:
            self.cri.pin([*found[1], *found[2]], pinned)

    def local(self) -> list[Local]:
        used = self.cri.in_use()
        return [
            Local(i, tuple(tags), size, i in used or bool(used.intersection(tags)))
            for i, tags, _, size in self.cri.listed()
        ]

    def remove(self, image: Local) -> None:
        # the CRI's containers are not checked by RemoveImage: asked again, just before
        used = self.cri.in_use()
        if image.id in used or used.intersection(image.tags):
            raise InUse(f"{image.id}: in use")
        self.cri.remove(image.id)


DEFAULT_ENDPOINTS = {"cri": "unix:///run/containerd/containerd.sock", "docker": None}


def runtime(kind: str, endpoint: str | None, docker_config: Path | None) -> Runtime:
    if kind == "docker":
        return EngineRuntime(endpoint, docker_config)
    if kind == "cri":
        return CriRuntime(endpoint or str(DEFAULT_ENDPOINTS["cri"]), docker_config)
    raise StartpointsError(f"--pull {kind}: not docker, cri or none")


def _cri_name(image: str) -> str:
    """The name containerd's CRI plugin records an image under: fully qualified
    (`docker.io/library/python:3`), as the CRI normalises what it is asked for."""
    from startpoints.core.reference import parse

    ref = parse(image)
    name = f"{ref.domain}/{ref.api_repository}"
    return f"{name}@{ref.digest}" if ref.digest else f"{name}:{ref.tag or 'latest'}"


@contextlib.contextmanager
def _denied(image: str, credentials: bool) -> Iterator[None]:
    """A runtime's "denied" as Denied: the registry's, saying whether credentials were sent."""
    from startpoints.core import failure
    from startpoints.core.reference import parse

    try:
        yield
    except (StoreError, NotFound) as error:  # Docker words a token's refusal "not found"
        if failure.kind(str(error)) != "denied":
            raise
        raise Denied(parse(image).domain, credentials, str(error)) from None


def _credentials(image: str, docker_config: Path | None) -> tuple[str, str] | None:
    from startpoints.core.reference import parse
    from startpoints.oci.authn import credentials

    return credentials(parse(image).domain, docker_config) if docker_config else None
