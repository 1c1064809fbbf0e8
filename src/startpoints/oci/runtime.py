"""A node's image runtime as the pre-pull sees it: a Docker Engine API (docker, podman) or a
CRI ImageService (containerd, CRI-O), each behind the same small interface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from startpoints.errors import InUse, StartpointsError

Progress = Callable[[int], None]  # bytes of an image fetched so far


@dataclass(frozen=True)
class Local:
    """An image in the node's runtime."""

    id: str
    tags: tuple[str, ...]
    size: int  # bytes on the node, as the runtime says
    in_use: bool = False


class Runtime(Protocol):
    """Where images are pulled to."""

    def present(self, image: str) -> bool: ...

    def local(self) -> list[Local]:
        """Every image on the node, with whether a container uses it."""
        ...

    def remove(self, image: Local) -> None:
        """Remove it; InUse when a container uses it."""
        ...

    def pull(self, image: str, progress: Progress) -> None:
        """Pull `image`, calling `progress` as its bytes arrive where the runtime says."""
        ...


class EngineRuntime:
    """Pulls through a Docker Engine API (docker, podman), as on a commander-started server."""

    def __init__(self, endpoint: str | None, docker_config: Path | None) -> None:
        from startpoints.oci.engine import Engine

        self.engine = Engine(endpoint)
        self.docker_config = docker_config

    def present(self, image: str) -> bool:
        return self.engine.image_id(image) is not None

    def local(self) -> list[Local]:
        used = self.engine.in_use()
        return [Local(i, tuple(tags), size, i in used) for i, tags, size in self.engine.listed()]

    def remove(self, image: Local) -> None:
        for tag in image.tags:  # the engine untags; the image goes with its last tag
            self.engine.remove(tag)

    def pull(self, image: str, progress: Progress) -> None:
        found = _credentials(image, self.docker_config)
        auth = {"username": found[0], "password": found[1]} if found else None
        self.engine.pull(image, auth, progress)


class CriRuntime:
    """Pulls through a node's CRI ImageService (containerd, CRI-O), as kubelet does."""

    def __init__(self, endpoint: str, docker_config: Path | None) -> None:
        from startpoints.oci.cri import Cri

        self.cri = Cri(endpoint)
        self.docker_config = docker_config

    def present(self, image: str) -> bool:
        return self.cri.present(image)

    def local(self) -> list[Local]:
        used = self.cri.in_use()
        return [
            Local(i, tuple(tags), size, i in used or bool(used.intersection(tags)))
            for i, tags, size in self.cri.listed()
        ]

    def remove(self, image: Local) -> None:
        # the CRI's containers are not checked by RemoveImage: asked again, just before
        used = self.cri.in_use()
        if image.id in used or used.intersection(image.tags):
            raise InUse(f"{image.id}: in use")
        self.cri.remove(image.id)

    def pull(self, image: str, progress: Progress) -> None:
        # the CRI's PullImage is one call that answers when done: no bytes on the way
        self.cri.pull(image, _credentials(image, self.docker_config))


DEFAULT_ENDPOINTS = {"cri": "unix:///run/containerd/containerd.sock", "docker": None}


def runtime(kind: str, endpoint: str | None, docker_config: Path | None) -> Runtime:
    if kind == "docker":
        return EngineRuntime(endpoint, docker_config)
    if kind == "cri":
        return CriRuntime(endpoint or str(DEFAULT_ENDPOINTS["cri"]), docker_config)
    raise StartpointsError(f"--pull {kind}: not docker, cri or none")


def _credentials(image: str, docker_config: Path | None) -> tuple[str, str] | None:
    from startpoints.core.reference import parse
    from startpoints.oci.registry import credentials

    return credentials(parse(image).domain, docker_config) if docker_config else None
