"""A hostile registry: oversized, malformed, dripping and stalled answers end in a clean error
naming the image, within the limits (core/limits.py), never a traceback or a hang."""

from __future__ import annotations

import base64
import http.server
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from startpoints.core.limits import Limits
from startpoints.core.reference import parse
from startpoints.errors import StoreError
from startpoints.oci import mediatypes, read
from startpoints.oci.stores import Stores
from startpoints.sources.image import ImageSource
from tests.conftest import EXAMPLES, FAST_RETRY
from tests.servers import HostileRegistry, answer, wait_until

CONFIG = b'{"architecture":"amd64","os":"linux"}'
CONFIG_DIGEST = "sha256:" + __import__("hashlib").sha256(CONFIG).hexdigest()


def manifest(**changes: object) -> bytes:
    value = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {
            "mediaType": mediatypes.OCI_CONFIG,
            "digest": CONFIG_DIGEST,
            "size": len(CONFIG),
        },
        "layers": [],
        **changes,
    }
    return json.dumps(value).encode()


def serving(manifest_body: bytes) -> object:
    def script(handler: http.server.BaseHTTPRequestHandler, _closing: threading.Event) -> None:
        if "/manifests/" in handler.path:
            answer(handler, 200, manifest_body, {"Content-Type": mediatypes.OCI_MANIFEST})
        elif "/blobs/" in handler.path:
            answer(handler, 200, CONFIG)
        else:
            answer(handler, 200, b"{}")

    return script


@pytest.fixture
def hostile() -> Iterator[list[HostileRegistry]]:
    made: list[HostileRegistry] = []
    yield made
    for registry in made:
        registry.close()


def fetch(registry: HostileRegistry, tmp_path: Path, limits: Limits | None = None) -> None:
    ref = parse(f"{registry.host}/cdsp/evil:1234567")
    stores = Stores(retry=FAST_RETRY, limits=limits or Limits())
    ImageSource(str(ref), ref).fetch(tmp_path / "into", stores, lambda _: None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not JSON"),
        (b"[" * 100_000, "nested more than 64 deep"),
        (manifest(layers=[{"mediaType": "x", "digest": CONFIG_DIGEST, "size": "ten"}]), "size"),
        (manifest(layers=["not an object"]), "a descriptor must be an object"),
        (manifest(layers={"a": 1}), "layers is not a list"),
        (manifest(layers=[{"mediaType": "x", "digest": "sha256:../../x", "size": 1}]), "digest"),
        (manifest(config=7), "a descriptor must be an object"),
        (json.dumps({"mediaType": mediatypes.OCI_MANIFEST}).encode(), "not an image manifest"),
        (json.dumps([1, 2]).encode(), "not a JSON object"),
    ],
)
def test_a_malformed_manifest_is_a_named_error(
    hostile: list[HostileRegistry], tmp_path: Path, body: bytes, reason: str
) -> None:
    hostile.append(HostileRegistry(serving(body)))
    with pytest.raises(StoreError, match=reason):
        fetch(hostile[0], tmp_path)


def streamed_manifest(
    headers: dict[str, str], chunks: int, chunk: bytes, pause: float = 0.0
) -> object:
    """A registry whose manifest answer streams `chunks` × `chunk`, `pause` seconds apart,
    until the client hangs up or the test ends; everything else answers `{}`."""

    def script(handler: http.server.BaseHTTPRequestHandler, closing: threading.Event) -> None:
        if "/manifests/" not in handler.path:
            return answer(handler, 200, b"{}")
        handler.send_response(200)
        for key, value in {"Content-Type": mediatypes.OCI_MANIFEST, **headers}.items():
            handler.send_header(key, value)
        handler.end_headers()
        for _ in range(chunks):
            if closing.wait(pause) if pause else closing.is_set():
                return
            handler.wfile.write(chunk)
            handler.wfile.flush()

    return script


def test_an_oversized_manifest_is_refused_unread(
    hostile: list[HostileRegistry], tmp_path: Path
) -> None:
    # 50 MiB declared and sent, unless the client hangs up first
    script = streamed_manifest({"Content-Length": str(50 * 1024 * 1024)}, 800, b" " * 65536)
    hostile.append(HostileRegistry(script))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="52428800 bytes .* over the limit of 4194304"):
        fetch(hostile[0], tmp_path)


def test_a_manifest_without_length_is_cut_at_the_limit(
    hostile: list[HostileRegistry], tmp_path: Path
) -> None:
    # 12.5 MiB with no Content-Length
    script = streamed_manifest({"Connection": "close"}, 200, b" " * 65536)
    hostile.append(HostileRegistry(script))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="more than 1048576 bytes"):
        fetch(hostile[0], tmp_path, Limits(manifest_bytes=1024 * 1024))


def test_an_oversized_config_is_not_fetched(hostile: list[HostileRegistry], tmp_path: Path) -> None:
    huge = {"mediaType": mediatypes.OCI_CONFIG, "digest": CONFIG_DIGEST, "size": 300 * 1024 * 1024}
    hostile.append(HostileRegistry(serving(manifest(config=huge))))
    ref = parse(f"{hostile[0].host}/cdsp/evil:1234567")
    store = Stores(retry=FAST_RETRY).for_ref(ref)
    found, _ = read.image_manifest(store, ref)
    with pytest.raises(StoreError, match="config is 314572800 bytes, over the limit"):
        read.image_config(store, ref, found)
    assert not [r for r in hostile[0].requests if "/blobs/" in r]


def test_an_oversized_layer_is_not_fetched(hostile: list[HostileRegistry], tmp_path: Path) -> None:
    layer = {"mediaType": mediatypes.OCI_LAYER_GZIP, "digest": CONFIG_DIGEST, "size": 2 << 30}
    hostile.append(HostileRegistry(serving(manifest(layers=[layer]))))
    with pytest.raises(StoreError, match="a layer of 2147483648 bytes"):
        fetch(hostile[0], tmp_path)
    assert not [r for r in hostile[0].requests if "/blobs/" in r]


# One byte every 0.2 s: never idle long enough for a between-bytes timeout.
drip = streamed_manifest({"Content-Length": "1000"}, 1000, b" ", pause=0.2)
drip.__name__ = "drip"  # type: ignore[attr-defined]


def stall(handler: http.server.BaseHTTPRequestHandler, closing: threading.Event) -> None:
    """Accepts the request, then says nothing at all."""
    closing.wait(60)


def drip_headers(handler: http.server.BaseHTTPRequestHandler, closing: threading.Event) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 1000:
        if closing.wait(0.2):
            return
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()


@pytest.mark.parametrize("script", [drip, stall, drip_headers], ids=lambda s: s.__name__)
def test_a_slow_registry_ends_at_the_deadline(
    hostile: list[HostileRegistry], tmp_path: Path, script: object
) -> None:
    hostile.append(HostileRegistry(script))  # type: ignore[arg-type]
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"no complete answer .* within 1.5 s"):
        fetch(hostile[0], tmp_path, Limits(registry_deadline=1.5))
    assert time.monotonic() - started < 4


def token_server(token: str, hostile: list[HostileRegistry]) -> tuple[str, list[str | None]]:
    """A token realm in clear text on another loopback host; it records what it was sent."""
    seen: list[str | None] = []

    def script(handler: http.server.BaseHTTPRequestHandler, _: threading.Event) -> None:
        seen.append(handler.headers.get("Authorization"))
        answer(handler, 200, json.dumps({"token": token}).encode())

    hostile.append(HostileRegistry(script, host="127.0.0.2"))
    return (
        f'Bearer realm="http://{hostile[-1].host}/token",service=s,scope="repository:x:pull"',
        seen,
    )


def test_credentials_never_go_in_clear_text_to_another_host(
    hostile: list[HostileRegistry], tmp_path: Path
) -> None:
    realm, seen = token_server("harvested", hostile)

    def registry(handler: http.server.BaseHTTPRequestHandler, _: threading.Event) -> None:
        answer(handler, 401, b"{}", {"Www-Authenticate": realm})

    hostile.append(HostileRegistry(registry))
    config = tmp_path / "config.json"
    secret = base64.b64encode(b"hiker:s3cret").decode()
    config.write_text(json.dumps({"auths": {hostile[1].host: {"auth": secret}}}))
    ref = parse(f"{hostile[1].host}/cdsp/evil:1234567")
    store = Stores(docker_config=config, retry=FAST_RETRY).for_ref(ref)
    with pytest.raises(StoreError, match="another host over plain HTTP: credentials not sent") as e:
        store.fetch_manifest(ref)
    assert seen == []
    assert "s3cret" not in str(e.value) and secret not in str(e.value)
    assert len([r for r in hostile[1].requests if "/manifests/" in r]) == 1  # not retried


def test_an_anonymous_token_from_another_host_is_fine(
    hostile: list[HostileRegistry], tmp_path: Path
) -> None:
    realm, seen = token_server("anonymous", hostile)
    body = manifest()

    def registry(handler: http.server.BaseHTTPRequestHandler, _: threading.Event) -> None:
        if handler.headers.get("Authorization") == "Bearer anonymous":
            answer(handler, 200, body, {"Content-Type": mediatypes.OCI_MANIFEST})
        else:
            answer(handler, 401, b"{}", {"Www-Authenticate": realm})

    hostile.append(HostileRegistry(registry))
    ref = parse(f"{hostile[1].host}/cdsp/ok:1234567")
    data, _ = Stores(retry=FAST_RETRY).for_ref(ref).fetch_manifest(ref)
    assert data == body and seen == [None]


def run_assemble(registry: HostileRegistry, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    (tmp_path / "catalog").mkdir(exist_ok=True)
    (tmp_path / "catalog" / "catalog.json").write_text('{"kind": "languages", "start_points": []}')
    command = [sys.executable, "-m", "startpoints", "assemble", f"{registry.host}/cdsp/x:1234567"]
    command += ["--output", str(tmp_path / "catalog"), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_assemble_against_a_stalled_registry_ends_at_its_registry_timeout(
    hostile: list[HostileRegistry], tmp_path: Path
) -> None:
    hostile.append(HostileRegistry(stall))
    started = time.monotonic()
    process = run_assemble(hostile[0], tmp_path, "--registry-timeout", "1.5")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "no complete answer" in err and "within 1.5 s" in err and "Traceback" not in err
    assert time.monotonic() - started < 15
    assert (tmp_path / "catalog" / "catalog.json").read_text().startswith('{"kind"')  # untouched
    assert not list(tmp_path.glob(".startpoints-assemble-*"))


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_assemble_leaves_no_staging_behind(
    hostile: list[HostileRegistry], tmp_path: Path, sent: int
) -> None:
    hostile.append(HostileRegistry(stall))
    process = run_assemble(hostile[0], tmp_path)
    wait_until(lambda: bool(list(tmp_path.glob(".startpoints-assemble-*"))), "staging made")
    wait_until(lambda: bool(hostile[0].requests), "fetch started")
    process.send_signal(sent)
    process.communicate(timeout=10)
    assert process.returncode in (130, 143)
    assert not list(tmp_path.glob(".startpoints-assemble-*"))
    assert (tmp_path / "catalog" / "catalog.json").is_file()


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_previous_catalog_stalls_ends_at_once(
    hostile: list[HostileRegistry], tmp_path: Path, sent: int
) -> None:
    """`assemble --previous IMAGE` reads that catalog beside the source fetch: a signal while
    its blobs stall ends that read too, and leaves no staging and no catalog behind."""
    layer = {"mediaType": mediatypes.OCI_LAYER_GZIP, "digest": "sha256:" + "1" * 64, "size": 99}
    body = manifest(layers=[layer], annotations={"org.cyber-dojo.start-point": "languages"})

    def registry(handler: http.server.BaseHTTPRequestHandler, closing: threading.Event) -> None:
        if "/blobs/" in handler.path:
            stall(handler, closing)
        elif "/manifests/" in handler.path:
            answer(handler, 200, body, {"Content-Type": mediatypes.OCI_MANIFEST})
        else:
            answer(handler, 200, b"{}")  # the /v2/ probe

    hostile.append(HostileRegistry(registry))
    command = [
        sys.executable, "-m", "startpoints", "assemble", str(EXAMPLES / "bash-bats"),
        "--no-verify-images", "--previous", f"{hostile[0].host}/cd/catalog:1111111",
        "--output", str(tmp_path / "catalog"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    asked = lambda: any("/blobs/" in r for r in hostile[0].requests)  # noqa: E731
    wait_until(asked, "the previous catalog's blobs asked for")
    started = time.monotonic()
    process.send_signal(sent)
    process.communicate(timeout=10)
    assert process.returncode in (130, 143)
    assert time.monotonic() - started < 5
    assert not list(tmp_path.glob(".startpoints-assemble-*"))
    assert not (tmp_path / "catalog").exists()


def test_a_blob_redirected_to_storage_is_fetched_without_the_login(
    hostile: list[HostileRegistry], tmp_path: Path
) -> None:
    """GHCR answers a blob GET with a redirect to its storage host: followed, the blob
    verified, and the registry's login not sent to the other host."""
    storage_saw: list[str | None] = []

    def storage(handler: http.server.BaseHTTPRequestHandler, _: threading.Event) -> None:
        storage_saw.append(handler.headers.get("Authorization"))
        answer(handler, 200, CONFIG)

    hostile.append(HostileRegistry(storage, host="127.0.0.2"))
    body = manifest()

    def registry(handler: http.server.BaseHTTPRequestHandler, _: threading.Event) -> None:
        if handler.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
            answer(handler, 401, b"{}", {"Www-Authenticate": 'Basic realm="r"'})
        elif "/blobs/" in handler.path:
            where = f"http://{hostile[0].host}/storage/blob?signature=x"
            answer(handler, 307, b"", {"Location": where})
        else:
            answer(handler, 200, body, {"Content-Type": mediatypes.OCI_MANIFEST})

    hostile.append(HostileRegistry(registry))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {hostile[1].host: {"auth": "dTpw"}}}))  # u:p
    ref = parse(f"{hostile[1].host}/cdsp/ok:1234567")
    store = Stores(docker_config=config, retry=FAST_RETRY).for_ref(ref)
    found, _ = read.image_manifest(store, ref)
    assert read.image_config(store, ref, found) == json.loads(CONFIG)
    assert storage_saw == [None]
    assert [r for r in hostile[0].requests] == ["GET /storage/blob?signature=x"]


def test_heads_reuse_their_connection(hostile: list[HostileRegistry]) -> None:
    """A HEAD answer has no body to read: its connection goes back to the pool."""
    peers: set[int] = set()

    def registry(handler: http.server.BaseHTTPRequestHandler, _: threading.Event) -> None:
        peers.add(handler.client_address[1])
        headers = {"Content-Type": mediatypes.OCI_MANIFEST, "Docker-Content-Digest": CONFIG_DIGEST}
        answer(handler, 200, b"{}", headers)  # to a HEAD: its length, no body

    hostile.append(HostileRegistry(registry))
    store = Stores(retry=FAST_RETRY).for_ref(parse(f"{hostile[0].host}/cdsp/x:1"))
    for n in range(5):
        store.head(parse(f"{hostile[0].host}/cdsp/x:{n}"))
    assert len(hostile[0].requests) == 6 and len(peers) == 1  # /v2/ and 5 HEADs, one socket


def test_a_stalled_token_realm_ends_at_the_deadline(
    hostile: list[HostileRegistry], tmp_path: Path
) -> None:
    """oras asks for its tokens with requests and no timeout; its connections keep the
    operation's deadline too."""
    hostile.append(HostileRegistry(stall, host="127.0.0.2"))
    realm = f'Bearer realm="http://{hostile[0].host}/token",service=s,scope="repository:x:pull"'

    def registry(handler: http.server.BaseHTTPRequestHandler, _: threading.Event) -> None:
        answer(handler, 401, b"{}", {"Www-Authenticate": realm})

    hostile.append(HostileRegistry(registry))
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"no complete answer .* within 1.5 s"):
        fetch(hostile[1], tmp_path, Limits(registry_deadline=1.5))
    assert time.monotonic() - started < 4
    assert hostile[0].requests  # the realm was asked
