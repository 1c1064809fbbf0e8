"""A Docker Engine API (Docker, or podman's compatible service) to load images into, build
with, and pull through.

The only module that imports the docker SDK; its errors leave as StoreError naming the
engine and the image.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from startpoints.errors import InUse, NotFound, StoreError
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.image import Image


class Engine:
    def __init__(self, url: str | None = None, *, timeout: int = 600) -> None:
        """`url`: unix:///path.sock or tcp://host:port; None: DOCKER_HOST, else the default socket."""
        self.url = url or "the default Docker engine"
        try:
            self._client = (
                docker.DockerClient(base_url=url, timeout=timeout)
                if url
                else docker.from_env(timeout=timeout)
            )
        except docker.errors.DockerException as error:
            raise StoreError(f"{self.url}: no Docker engine API: {error}") from None

    def load(self, built: Image, tag: str, blob: Callable[[Descriptor], bytes]) -> str:
        """Load `built` as `tag` (a docker-archive, as `docker load` reads); `blob` gives the
        bytes of layers that are not in `built` (a base image's). Returns the image id."""
        manifest = json.loads(built.manifest)
        ours = {b.descriptor.digest: b.data for b in built.blobs}
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            config = Descriptor.from_json(manifest["config"])
            paths = []
            for descriptor in [config, *(Descriptor.from_json(d) for d in manifest["layers"])]:
                path = f"blobs/sha256/{descriptor.digest.split(':', 1)[1]}"
                data = ours[descriptor.digest] if descriptor.digest in ours else blob(descriptor)
                _add(archive, path, data)
                paths.append(path)
            _add(
                archive,
                "manifest.json",
                json.dumps([{"Config": paths[0], "RepoTags": [tag], "Layers": paths[1:]}]).encode(),
            )
        with self._errors(f"loading {tag}"):
            loaded = self._client.images.load(buffer.getvalue())
        return str(loaded[0].id) if loaded else ""

    def inspect(self, name: str) -> tuple[str, list[str]] | None:
        """(id, digested names it was pulled by) of the local image `name`, or None."""
        try:
            with self._errors(f"inspecting {name}"):
                found = self._client.images.get(name)
        except NotFound:
            return None
        return str(found.id), [str(d) for d in found.attrs.get("RepoDigests") or []]

    def tag(self, source: str, name: str) -> None:
        """Tag the local image `source` as `name` (moving `name` if it names another)."""
        repository, _, tag = name.rpartition(":")
        with self._errors(f"tagging {source} as {name}"):
            if not self._client.api.tag(source, repository, tag):
                raise StoreError(f"{self.url}: tagging {source} as {name}: refused")

    def listed(self) -> list[tuple[str, list[str], list[str], int]]:
        """Every image: (id, tags, digested names, size on the node)."""
        with self._errors("listing images"):
            return [
                (
                    str(i.id),
                    list(i.tags),
                    [str(d) for d in i.attrs.get("RepoDigests") or []],
                    int(i.attrs.get("Size") or 0),
                )
                for i in self._client.images.list()
            ]

    def in_use(self) -> set[str]:
        """The ids of the images containers use, stopped ones too."""
        with self._errors("listing containers"):
            return {str(c.attrs.get("Image", "")) for c in self._client.containers.list(all=True)}

    def remove(self, tag: str) -> None:
        """Untag `tag` (its image goes with its last tag). Never forced: an image a container
        uses is refused by the engine (409), as InUse."""
        try:
            self._client.images.remove(tag, force=False)
        except docker.errors.APIError as error:
            if error.status_code == 409:
                raise InUse(f"{self.url}: {tag}: in use: {error.explanation or error}") from None
            raise StoreError(f"{self.url}: removing {tag}: {error.explanation or error}") from None

    def build(self, context: Path, tag: str, dockerfile: str = "Dockerfile") -> str:
        with self._errors(f"building {tag} from {context}"):
            built, _ = self._client.images.build(
                path=str(context), dockerfile=dockerfile, tag=tag, rm=True
            )
        return str(built.id)

    def pull(
        self,
        name: str,
        auth: dict[str, str] | None = None,
        progress: Callable[[int], None] = lambda _fetched: None,
    ) -> str:
        """Pull `name` (by tag, or by digest: `repo@sha256:…`); `progress` is told the bytes
        fetched so far, summed over its layers, as the engine's progress stream reports them."""
        if "@" in name:
            repository, _, tag = name.partition("@")
        else:
            repository, _, tag = (
                name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
            )
        doing = f"pulling {name}"
        layers: dict[str, tuple[int, int]] = {}
        with self._errors(doing):
            # The progress stream, not images.pull: that discards the stream's error and then
            # reports whatever went wrong as "no such image".
            for event in self._client.api.pull(
                repository, tag=tag or None, auth_config=auth, stream=True, decode=True
            ):
                if not isinstance(event, dict):
                    continue
                failed = event.get("error")
                if failed:
                    missing = _MISSING.search(str(failed))
                    raise (NotFound if missing else StoreError)(f"{self.url}: {doing}: {failed}")
                if _layer_bytes(event, layers):
                    progress(sum(fetched for fetched, _ in layers.values()))
        found = self.inspect(name)
        return found[0] if found else ""

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except docker.errors.ImageNotFound as error:
            raise NotFound(
                f"{self.url}: {doing}: not found: {error.explanation or error}"
            ) from None

        except docker.errors.BuildError as error:
            raise StoreError(f"{self.url}: {doing}: {error.msg}") from None
        except docker.errors.NotFound as error:
            # Docker answers a pull of a missing manifest 404 at once, before any stream
            raise NotFound(f"{self.url}: {doing}: {error.explanation or error}") from None
        except docker.errors.APIError as error:
            raise StoreError(f"{self.url}: {doing}: {error.explanation or error}") from None
        except (docker.errors.DockerException, requests.RequestException) as error:
            raise StoreError(f"{self.url}: {doing}: engine unreachable: {error}") from None


# How engines word "the registry answered: no such image" (Docker, podman), as against a
# failure to get an answer at all.
_MISSING = re.compile(
    r"manifest unknown|name unknown|repository does not exist|: not found$", re.IGNORECASE
)


def _layer_bytes(event: dict[str, Any], layers: dict[str, tuple[int, int]]) -> bool:
    """Note a progress event's bytes for its layer in `layers` (id → fetched, total); True
    when any grew. Docker sends `Downloading` with progressDetail's `current` and `total`,
    then `Download complete` with no detail (the whole layer, as last totalled). podman 4.3
    sends only `Download complete`, with no bytes: nothing to count until the image is
    done. `Extracting` reports bytes of the same layer again, and is not counted."""
    layer, status = event.get("id"), str(event.get("status", ""))
    detail = event.get("progressDetail")
    if not isinstance(layer, str) or not isinstance(detail, dict):
        return False
    fetched, total = layers.get(layer, (0, 0))
    if status.startswith("Downloading"):
        current, size = detail.get("current"), detail.get("total")
        total = size if isinstance(size, int) and size > 0 else total
        if isinstance(current, int) and current > fetched:
            layers[layer] = (min(current, total) if total else current, total)
            return True
        layers[layer] = (fetched, total)
    elif status.startswith("Download complete") and total > fetched:
        layers[layer] = (total, total)
        return True
    return False


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))
