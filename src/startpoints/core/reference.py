"""Image references: Docker's `[host[:port]/]path[:tag][@digest]` grammar and the `oci:PATH[:NAME]` layout form."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from startpoints.errors import BadReference

# The grammar of distribution/reference (regexp.go), which Docker, containerd and
# cyber-dojo's own well_formed_image_name.rb all follow.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?")
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")

DOCKER_HUB = "docker.io"
_DOCKER_HUB_API = "registry-1.docker.io"
_PLAIN_HTTP_HOSTS = ("localhost", "127.0.0.1")
LAYOUT_PREFIX = "oci:"


@dataclass(frozen=True)
class Reference:
    """A parsed image reference; `layout` is set for `oci:` references, `registry` otherwise.

    `registry` is empty when the text named none (Docker Hub); it is kept so that
    a reference formats back the way it was written.
    """

    repository: str
    registry: str = ""
    tag: str | None = None
    digest: str | None = None
    layout: str | None = None

    @property
    def is_layout(self) -> bool:
        return self.layout is not None

    @property
    def domain(self) -> str:
        """The registry this reference lives in, Docker Hub when none was named."""
        return self.registry or DOCKER_HUB

    @property
    def api_host(self) -> str:
        """The host that answers the distribution API for this registry."""
        return _DOCKER_HUB_API if self.domain == DOCKER_HUB else self.domain

    @property
    def plain_http(self) -> bool:
        """True for loopback registries, which Docker too speaks to over plain HTTP."""
        return self.domain.split(":")[0] in _PLAIN_HTTP_HOSTS

    @property
    def api_repository(self) -> str:
        """The repository as the registry API names it (`library/` added for official Hub images)."""
        if self.domain == DOCKER_HUB and "/" not in self.repository:
            return f"library/{self.repository}"
        return self.repository

    @property
    def identifier(self) -> str | None:
        """What to ask a store for: the digest when there is one, else the tag."""
        return self.digest or self.tag

    @property
    def name(self) -> str:
        """The reference without tag or digest."""
        if self.layout is not None:
            return f"{LAYOUT_PREFIX}{self.layout}:{self.repository}".rstrip(":")
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def docker_name(self) -> str:
        """The name Docker would know this image by: for a layout, the repository inside it."""
        return self.repository if self.layout is not None else self.name

    @property
    def last_path_part(self) -> str:
        return self.repository.rsplit("/", 1)[-1]

    def with_tag(self, tag: str) -> Reference:
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        return replace(self, digest=digest)

    def at_digest(self, digest: str) -> Reference:
        """The same repository, naming `digest` alone (no tag)."""
        return replace(self, tag=None, digest=digest)

    def with_repository(self, repository: str) -> Reference:
        return replace(self, repository=repository, tag=None, digest=None)

    def __str__(self) -> str:
        suffix = (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")
        if self.layout is not None:
            name = self.repository + suffix if self.repository else suffix.lstrip(":")
            return f"{LAYOUT_PREFIX}{self.layout}:{name}".rstrip(":")
        return f"{self.name}{suffix}"

    @property
    def ref_name(self) -> str | None:
        """The `org.opencontainers.image.ref.name` an OCI layout files this tag under."""
        if self.tag is None:
            return None
        return f"{self.repository}:{self.tag}" if self.repository else self.tag


def parse(text: str) -> Reference:
    """Parse `text` as an image reference, raising BadReference naming it and the reason."""
    if text.startswith(LAYOUT_PREFIX):
        return _parse_layout(text)
    return _parse_docker(text)


def is_sha256_digest(text: str) -> bool:
    return _SHA256.fullmatch(text) is not None


def _parse_docker(text: str) -> Reference:
    rest, digest = _split_digest(text)
    registry, path = _split_registry(rest)
    path, tag = _split_tag(path)
    if registry and not _DOMAIN.fullmatch(registry):
        raise BadReference(f'parsing reference "{text}": malformed registry host "{registry}"')
    if not _PATH.fullmatch(path):
        raise BadReference(
            f'parsing reference "{text}": repository "{path}" must be lowercase path parts '
            "of letters and digits separated by '.', '_', '__' or '-'"
        )
    if len(f"{registry}/{path}") > 255:
        raise BadReference(f'parsing reference "{text}": name longer than 255 characters')
    return Reference(repository=path, registry=registry, tag=tag, digest=digest)


def _parse_layout(text: str) -> Reference:
    body = text[len(LAYOUT_PREFIX) :]
    path, _, name = body.partition(":")
    if not path:
        raise BadReference(f'parsing reference "{text}": oci: needs a layout path')
    name, digest = _split_digest(name, text) if "@" in name else (name, None)
    # NAME is `repository:tag`, `repository@digest`, or a bare tag as skopeo writes one;
    # the repository may carry a registry host (and port), as an image's name does.
    if ":" in name.rsplit("/", 1)[-1]:
        repository, tag = name.rsplit(":", 1)
    elif digest is not None or "/" in name:
        repository, tag = name, None
    else:
        repository, tag = "", name or None
    if repository:
        try:
            inner = _parse_docker(repository)
        except BadReference:
            inner = None
        if inner is None or inner.tag or inner.digest:
            raise BadReference(f'parsing reference "{text}": malformed repository "{repository}"')
    if tag is not None and not _TAG.fullmatch(tag):
        raise BadReference(f'parsing reference "{text}": malformed tag "{tag}"')
    return Reference(repository=repository, tag=tag, digest=digest, layout=path)


def _split_digest(text: str, whole: str | None = None) -> tuple[str, str | None]:
    if "@" not in text:
        return text, None
    rest, _, digest = text.partition("@")
    if not _DIGEST.fullmatch(digest):
        raise BadReference(f'parsing reference "{whole or text}": malformed digest "{digest}"')
    return rest, digest


def _split_registry(text: str) -> tuple[str, str]:
    first, sep, rest = text.partition("/")
    # cyber-dojo's rule (and Docker's, but for its upper-case quirk): a host has a '.' or a
    # ':' or is localhost, so "CYBERDOJO/x" is a malformed name, not a host called CYBERDOJO.
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "", text


def _split_tag(path: str) -> tuple[str, str | None]:
    if ":" not in path:
        return path, None
    path, tag = path.rsplit(":", 1)
    if not _TAG.fullmatch(tag):
        raise BadReference(f'parsing reference "{path}:{tag}": malformed tag "{tag}"')
    return path, tag
