"""The registry store against a real docker-registry: blobs, manifests, tags, errors, retries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from startpoints.core.backoff import Backoff
from startpoints.core.reference import parse
from startpoints.errors import InvalidStartPoint, NotFound, StoreError, Unreachable
from startpoints.oci import image, layer, mediatypes, write
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.registry import RegistryStore
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.servers import FaultyProxy, Registry, free_port

FAST = Backoff(first=0.01, cap=0.05, attempts=3)


def built(tmp_path: Path, text: str = "x") -> image.Image:
    tree = tmp_path / f"tree-{text}"
    tree.mkdir()
    (tree / "f").write_text(text)
    return image.build(
        [layer.from_dir(tree, "sp")], created="2026-01-01T00:00:00Z", annotations={"t": text}
    )


def store_for(host: str) -> RegistryStore:
    return RegistryStore(host, plain_http=True, retry=FAST)


def test_write_resolve_fetch(registry: Registry, tmp_path: Path, unique: str) -> None:
    store = store_for(registry.host)
    ref = parse(f"{registry.host}/r{unique}/img:1")
    img = built(tmp_path)
    assert store.resolve(ref) is None

    assert write.write(store, ref, img).blobs_uploaded == 2

    assert store.resolve(ref) == img.descriptor
    data, descriptor = store.fetch_manifest(ref.at_digest(img.digest))
    assert data == img.manifest and descriptor.media_type == mediatypes.OCI_MANIFEST
    config = img.blobs[0]
    assert store.fetch_blob(ref, config.descriptor) == config.data
    assert store.has_blob(ref, config.descriptor)
    assert write.write(store, ref, img).blobs_uploaded == 0
    assert registry.tags(f"r{unique}/img") == ["1"]


def test_tag_puts_the_same_manifest_bytes_under_a_new_tag(
    registry: Registry, tmp_path: Path, unique: str
) -> None:
    store = store_for(registry.host)
    ref = parse(f"{registry.host}/r{unique}/img:build")
    img = built(tmp_path)
    write.write(store, ref, img)
    uploads = registry.blob_uploads()

    write.tag(store, ref, ref.with_tag("4edf92a"))

    assert store.resolve(ref.with_tag("4edf92a")) == img.descriptor
    assert registry.blob_uploads() == uploads


def test_missing_manifest_and_blob(registry: Registry, unique: str) -> None:
    store = store_for(registry.host)
    ref = parse(f"{registry.host}/r{unique}/none:1")
    with pytest.raises(NotFound, match="manifest not found"):
        store.fetch_manifest(ref)
    with pytest.raises(NotFound, match="not found"):
        store.fetch_blob(ref, Descriptor("x", "sha256:" + "1" * 64, 1))
    assert not store.has_blob(ref, Descriptor("x", "sha256:" + "1" * 64, 1))


def test_blob_with_wrong_size_or_digest_is_refused(
    registry: Registry, tmp_path: Path, unique: str
) -> None:
    store = store_for(registry.host)
    ref = parse(f"{registry.host}/r{unique}/img:1")
    img = built(tmp_path)
    write.write(store, ref, img)
    config = img.blobs[0].descriptor
    with pytest.raises(StoreError, match="its descriptor says"):
        store.fetch_blob(ref, Descriptor(config.media_type, config.digest, config.size - 1))
    with pytest.raises(StoreError, match="does not match"):
        store.push_blob(ref, Descriptor(config.media_type, config.digest, 3), b"abc")


def test_unreachable_registry_gives_up_after_bounded_retries() -> None:
    host = f"127.0.0.1:{free_port()}"
    store = store_for(host)
    with pytest.raises(Unreachable) as raised:
        store.resolve(parse(f"{host}/a/b:1"))
    # one line: the host and the cause, not the HTTP library's chain of wrappers
    assert str(raised.value) == f"{host}: unreachable (connection refused; 3 attempts)"
    with pytest.raises(Unreachable, match=r"^nohost\.invalid: unreachable \(host name not found"):
        store_for("nohost.invalid").resolve(parse("nohost.invalid/a/b:1"))


def test_one_problem_per_unreachable_registry_however_many_sources_name_it() -> None:
    host = f"127.0.0.1:{free_port()}"
    texts = [f"{host}/cdsp/lang_{i}:1a2b3c4" for i in range(5)]
    with pytest.raises(InvalidStartPoint) as raised:
        assemble.assemble(assemble.Request(sources=texts), Stores(retry=FAST))
    (problem,) = raised.value.problems
    assert str(problem).startswith(f"{host}: unreachable (connection refused")
    assert "5 sources not fetched" in str(problem) and "and 2 more" in str(problem)


def test_5xx_retried_then_reported(registry: Registry, tmp_path: Path, unique: str) -> None:
    seen: list[str] = []

    def always(method: str, path: str) -> int | None:
        if method == "HEAD" and "/manifests/" in path:
            seen.append(path)
            return 503
        return None

    proxy = FaultyProxy(registry.host, always)
    try:
        with pytest.raises(StoreError, match="answered 503.*gave up after 3 attempts"):
            store_for(proxy.host).resolve(parse(f"{proxy.host}/r{unique}/img:1"))
    finally:
        proxy.close()
    assert len(seen) == 3


def test_login_from_docker_config_against_a_basic_auth_registry(
    tmp_path: Path, unique: str
) -> None:
    import base64

    from tests.servers import AuthRegistry

    server = AuthRegistry(tmp_path / "auth-registry", "hiker", "s3cr3t").start()
    try:
        ref = parse(f"{server.host}/r{unique}/img:1")
        anonymous = RegistryStore(server.host, plain_http=True, retry=FAST)
        with pytest.raises(StoreError, match="asks for a login.*no credentials") as anonymous_error:
            anonymous.resolve(ref)

        wrong = tmp_path / "wrong.json"
        wrong.write_text(
            json.dumps({"auths": {server.host: {"auth": base64.b64encode(b"hiker:nope").decode()}}})
        )
        with pytest.raises(StoreError, match="answered 401") as wrong_error:
            RegistryStore(server.host, plain_http=True, docker_config=wrong, retry=FAST).resolve(
                ref
            )

        right = tmp_path / "right.json"
        right.write_text(
            json.dumps(
                {"auths": {server.host: {"auth": base64.b64encode(b"hiker:s3cr3t").decode()}}}
            )
        )
        store = RegistryStore(server.host, plain_http=True, docker_config=right, retry=FAST)
        img = built(tmp_path)
        write.write(store, ref, img)
        assert store.resolve(ref) == img.descriptor
    finally:
        server.stop()
    for error in (anonymous_error.value, wrong_error.value):
        assert "s3cr3t" not in str(error) and "nope" not in str(error)


def test_bearer_tokens_from_a_token_server_with_docker_config_credentials(
    tmp_path: Path, unique: str
) -> None:
    """As GHCR and Docker Hub do: the registry answers 401 with a Bearer challenge; the
    client gets a token scoped to the repository from the realm, with the credentials."""
    import base64

    from tests.servers import TokenRegistry

    server = TokenRegistry(tmp_path / "token-registry", "hiker", "s3cr3t").start()
    try:
        ref = parse(f"{server.host}/r{unique}/img:1")
        right = tmp_path / "right.json"
        right.write_text(
            json.dumps(
                {"auths": {server.host: {"auth": base64.b64encode(b"hiker:s3cr3t").decode()}}}
            )
        )
        store = RegistryStore(server.host, plain_http=True, docker_config=right, retry=FAST)
        img = built(tmp_path)
        write.write(store, ref, img)
        assert store.resolve(ref) == img.descriptor
        other = ref.with_repository(f"r{unique}/other").with_tag("2")
        write.write(store, other, img)  # a second repository: a token of its own scope
        assert store.resolve(other) == img.descriptor
        assert server.tokens_issued >= 2

        anonymous = RegistryStore(server.host, plain_http=True, retry=FAST)
        with pytest.raises(StoreError, match="answered 401") as caught:
            anonymous.resolve(ref)
        assert "s3cr3t" not in str(caught.value)
    finally:
        server.stop()


def test_credentials_for_an_engine_or_cri_come_from_docker_config(tmp_path: Path) -> None:
    import base64

    from startpoints.oci.authn import credentials

    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "auths": {
                    "ghcr.io": {"auth": base64.b64encode(b"octo:ghp_token").decode()},
                    "https://index.docker.io/v1/": {
                        "auth": base64.b64encode(b"whale:dckr_pat").decode()
                    },
                }
            }
        )
    )
    assert credentials("ghcr.io", config) == ("octo", "ghp_token")
    assert credentials("docker.io", config) == ("whale", "dckr_pat")
    assert credentials("quay.io", config) is None


def test_a_429_is_the_answer_not_retried_into_the_same_quota(
    registry: Registry, stores: Stores, unique: str
) -> None:
    """Docker Hub's refusal, with no Retry-After: one manifest GET, then an error naming the
    limit and when the six-hour window it advertises ends; not five tries of the same quota."""
    import time

    from startpoints.oci.registry import RegistryStore
    from tests.conftest import FAST_RETRY, push_language_image
    from tests.servers import DockerHubLimits

    ref = parse(f"{registry.host}/limited{unique}/x:1")
    push_language_image(stores, ref)
    hub = DockerHubLimits(registry.host, allowed=0)
    try:
        store = RegistryStore(hub.host, plain_http=True, retry=FAST_RETRY)
        behind = parse(f"{hub.host}/limited{unique}/x:1")
        with pytest.raises(StoreError, match="429 Too Many Requests") as refused:
            store.fetch_manifest(behind)
        assert hub.manifest_gets == 1
        until = time.strftime("%Y-%m-%dT%H", time.gmtime(time.time() + 21600))
        assert f"rate limited until ~{until}" in str(refused.value)
        digest, limit = store.head(behind)  # a HEAD is free, and says the same limit
        assert digest and (limit.remaining, limit.window) == (0, 21600.0)
    finally:
        hub.close()


def test_a_429_with_retry_after_is_waited_out_then_asked_again(
    registry: Registry, stores: Stores, unique: str
) -> None:
    import time

    from startpoints.oci.registry import RegistryStore
    from tests.conftest import FAST_RETRY, push_language_image
    from tests.servers import DockerHubLimits

    ref = parse(f"{registry.host}/limited{unique}/y:1")
    push_language_image(stores, ref)
    hub = DockerHubLimits(registry.host, allowed=0)
    hub.retry_after = "1"
    store = RegistryStore(hub.host, plain_http=True, retry=FAST_RETRY)
    behind = parse(f"{hub.host}/limited{unique}/y:1")
    seen: list[int] = []
    original = hub.fault

    def open_after_one(method: str, path: str) -> int | None:
        refused = original(method, path)
        seen.append(refused or 200)
        if refused:
            hub.allowed = 100  # the next GET is let through
        return refused

    hub.fault = open_after_one
    try:
        started = time.monotonic()
        store.fetch_manifest(behind)
        assert [s for s in seen if s == 429] == [429]
        assert time.monotonic() - started >= 1.0  # the registry's Retry-After, not our backoff
    finally:
        hub.close()
