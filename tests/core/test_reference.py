"""Image references: Docker's grammar and the oci: layout form, parsed and formatted back."""

from __future__ import annotations

import pytest

from startpoints.core.reference import is_sha256_digest, parse
from startpoints.errors import BadReference

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        (
            "cyberdojofoundation/java_junit:4edf92a",
            "",
            "cyberdojofoundation/java_junit",
            "4edf92a",
            None,
        ),
        ("busybox", "", "busybox", None, None),
        (
            "ghcr.io/cyber-dojo-languages/java_junit",
            "ghcr.io",
            "cyber-dojo-languages/java_junit",
            None,
            None,
        ),
        (f"localhost:5000/a/b:t@{DIGEST}", "localhost:5000", "a/b", "t", DIGEST),
        (f"localhost/a@{DIGEST}", "localhost", "a", None, DIGEST),
        ("127.0.0.1:5000/x__y/a-b.c:v1.2_3", "127.0.0.1:5000", "x__y/a-b.c", "v1.2_3", None),
        (
            "registry.example.com:443/deep/path/name:tag",
            "registry.example.com:443",
            "deep/path/name",
            "tag",
            None,
        ),
    ],
)
def test_parses_and_formats_back(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert str(ref) == text
    assert not ref.is_layout


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("CYBERDOJO/csharp_nunit", "must be lowercase"),
        ("Cyberdojo", "must be lowercase"),
        ("a//b", "must be lowercase path parts"),
        ("a/b:", 'malformed tag ""'),
        ("a/b:-x", "malformed tag"),
        ("a/b:" + "x" * 129, "malformed tag"),
        ("a/b@sha256:123", "malformed digest"),
        ("-a/b", "must be lowercase path parts"),
        ("a_/b", "must be lowercase path parts"),
        ("host-.com/a", "malformed registry host"),
        ("", "must be lowercase path parts"),
        ("oci:", "needs a layout path"),
        ("oci:/x:Bad/Repo:tag", "malformed repository"),
    ],
)
def test_malformed_references_are_refused(text: str, reason: str) -> None:
    with pytest.raises(BadReference, match=reason):
        parse(text)


def test_loopback_registries_speak_plain_http() -> None:
    assert parse("localhost:5000/a").plain_http
    assert parse("127.0.0.1:5000/a").plain_http
    assert parse("localhost/a").plain_http
    assert not parse("ghcr.io/a").plain_http
    assert not parse("localhost.example.com/a").plain_http
    assert not parse("a/b").plain_http


def test_docker_hub_names() -> None:
    ref = parse("busybox:1")
    assert (ref.domain, ref.api_host, ref.api_repository) == (
        "docker.io",
        "registry-1.docker.io",
        "library/busybox",
    )
    assert parse("cyberdojo/x").api_repository == "cyberdojo/x"
    assert parse("ghcr.io/busybox").api_repository == "busybox"


@pytest.mark.parametrize(
    ("text", "layout", "repository", "tag", "ref_name"),
    [
        ("oci:/tmp/l", "/tmp/l", "", None, None),
        ("oci:/tmp/l:latest", "/tmp/l", "", "latest", "latest"),
        (
            "oci:rel/dir:cdsp/java_junit:4edf92a",
            "rel/dir",
            "cdsp/java_junit",
            "4edf92a",
            "cdsp/java_junit:4edf92a",
        ),
        (f"oci:/tmp/l:cdsp/j@{DIGEST}", "/tmp/l", "cdsp/j", None, None),
        (f"oci:/tmp/l:@{DIGEST}", "/tmp/l", "", None, None),
    ],
)
def test_layout_form(
    text: str, layout: str, repository: str, tag: str | None, ref_name: str | None
) -> None:
    ref = parse(text)
    assert (ref.layout, ref.repository, ref.tag, ref.ref_name) == (
        layout,
        repository,
        tag,
        ref_name,
    )
    assert ref.is_layout
    assert str(parse(str(ref))) == str(ref)


def test_derived_references() -> None:
    ref = parse("ghcr.io/org/java_junit:latest")
    assert str(ref.with_tag("4edf92a")) == "ghcr.io/org/java_junit:4edf92a"
    assert str(ref.at_digest(DIGEST)) == f"ghcr.io/org/java_junit@{DIGEST}"
    assert (
        str(ref.with_tag("4edf92a").with_digest(DIGEST))
        == f"ghcr.io/org/java_junit:4edf92a@{DIGEST}"
    )
    assert str(ref.with_repository("cdsp/java_junit")) == "ghcr.io/cdsp/java_junit"
    assert ref.last_path_part == "java_junit"
    assert ref.identifier == "latest" and ref.at_digest(DIGEST).identifier == DIGEST


def test_sha256_digests() -> None:
    assert is_sha256_digest(DIGEST)
    assert not is_sha256_digest(DIGEST.upper())
    assert not is_sha256_digest("sha512:" + "0" * 128)
