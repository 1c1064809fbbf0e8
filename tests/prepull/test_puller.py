"""Pre-pull against real runtimes: Docker's own engine and podman's Docker API (each test of the
Engine path runs on both) and containerd's CRI, pulling from a
real registry whose access log counts every blob fetched."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from startpoints.core.backoff import Backoff
from startpoints.core.reference import Reference, parse
from startpoints.oci import runtime
from startpoints.oci.stores import Stores
from startpoints.prepull import puller as pull
from startpoints.prepull.plan import order
from tests.conftest import push_language_image
from tests.servers import Containerd, Dockerd, Podman, Registry, wait_until

FAST = Backoff(first=0.05, cap=0.2)


def images(registry: Registry, unique: str, count: int = 3) -> list[Reference]:
    refs = [parse(f"{registry.host}/lang{unique}/image_{i}:ci") for i in range(count)]
    for i, ref in enumerate(refs):
        push_language_image(Stores(), ref, content=f"language {unique} {i}")
    return refs


def blobs_of(registry: Registry, refs: list[Reference]) -> list[str]:
    repos = {r.repository for r in refs}
    return [
        line
        for line in registry.log_text().splitlines()
        if "GET /v2/" in line
        and "/blobs/sha256:" in line
        and any(f"/v2/{r}/" in line for r in repos)
    ]


class Around:
    """A real runtime, every call passed through but those a test watches."""

    def __init__(self, inner: runtime.Runtime) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Gated(Around):
    """A real runtime whose pulls wait at a gate, so a test can look while pulls are running."""

    def __init__(self, inner: runtime.Runtime) -> None:
        super().__init__(inner)
        self.gate = threading.Event()

    def pull(self, image: str, digest: str | None, progress: runtime.Progress) -> None:
        self.gate.wait(30)
        self.inner.pull(image, digest, progress)


def test_overlapping_pokes_pull_each_image_once_and_ready_never_waits(
    registry: Registry, engine: Dockerd | Podman, unique: str, tmp_path: Path
) -> None:
    refs = images(registry, unique)
    backend = Gated(runtime.EngineRuntime(engine.url, None))
    puller = pull.Puller(
        [str(r) for r in refs],
        backend,
        identity="catalog-a",
        marker=tmp_path / "marker.json",
        backoff=FAST,
    )
    pokes = [threading.Thread(target=puller.poke) for _ in range(60)]
    for thread in pokes:
        thread.start()
    for thread in pokes:
        thread.join()
    wait_until(lambda: puller.pulls_started == len(refs), "every pull started")

    is_ready, detail = puller.ready()  # answers while every pull is held at the gate
    assert not is_ready
    assert detail["total"] == 3 and detail["done"] == 0
    assert set(detail["images"].values()) == {"pulling"}

    backend.gate.set()
    wait_until(lambda: puller.ready()[0], "warm")
    assert puller.pulls_started == len(refs)
    fetched = blobs_of(registry, refs)
    assert len(fetched) == len(set(fetched)) == 2 * len(refs)  # config + layer of each, once
    assert (tmp_path / "marker.json").is_file()


def test_restart_with_marker_is_ready_after_a_presence_check_only(
    registry: Registry, engine: Dockerd | Podman, unique: str, tmp_path: Path
) -> None:
    refs = [str(r) for r in images(registry, unique, 2)]
    marker = tmp_path / "marker.json"
    first = pull.Puller(
        refs,
        runtime.EngineRuntime(engine.url, None),
        identity="catalog-b",
        marker=marker,
        backoff=FAST,
    )
    assert first.run_once()
    before = registry.log_text().count("/blobs/")

    again = pull.Puller(
        refs,
        runtime.EngineRuntime(engine.url, None),
        identity="catalog-b",
        marker=marker,
        backoff=FAST,
    )
    assert again.run_once() and again.marker_matched
    assert again.pulls_started == 0
    assert registry.log_text().count("/blobs/") == before
    other = pull.Puller(
        refs,
        runtime.EngineRuntime(engine.url, None),
        identity="catalog-c",
        marker=marker,
        backoff=FAST,
    )
    other.run_once()
    assert not other.marker_matched


def test_a_missing_image_is_named_then_pulled_once_pushed(
    registry: Registry, engine: Dockerd | Podman, unique: str
) -> None:
    missing = parse(f"{registry.host}/lang{unique}/late:ci")
    puller = pull.Puller(
        [str(missing)], runtime.EngineRuntime(engine.url, None), identity="catalog-d", backoff=FAST
    )
    puller.poke()
    wait_until(lambda: (puller.ready()[1].get("last_error") or "") != "", "the failure reported")
    is_ready, detail = puller.ready()
    assert not is_ready and str(missing) in detail["last_error"]
    push_language_image(Stores(), missing, content="late")
    wait_until(lambda: puller.ready()[0], "ready once pushed, without a restart")
    puller.stop()


def test_recheck_repulls_what_was_garbage_collected(
    registry: Registry, engine: Dockerd | Podman, unique: str
) -> None:
    (ref,) = [str(r) for r in images(registry, unique, 1)]
    puller = pull.Puller(
        [ref],
        runtime.EngineRuntime(engine.url, None),
        identity="catalog-e",
        backoff=FAST,
        recheck=0.2,
    )
    puller.poke()
    wait_until(lambda: puller.ready()[0], "warm")
    docker.DockerClient(base_url=engine.url).images.remove(ref, force=True)
    wait_until(
        lambda: puller.pulls_started == 2 and puller.states()[ref]["state"] == "present",
        "re-pulled",
    )
    assert puller.ready()[0]
    puller.stop()


def test_cri_pulls_into_containerds_k8s_namespace(
    registry: Registry, containerd: Containerd, unique: str, tmp_path: Path
) -> None:
    refs = [str(r) for r in images(registry, unique, 2)]
    puller = pull.Puller(
        refs,
        runtime.CriRuntime(containerd.url, None),
        identity="catalog-f",
        marker=tmp_path / "m.json",
        backoff=FAST,
    )
    assert puller.run_once()
    assert set(refs) <= set(containerd.ctr_images())
    again = pull.Puller(
        refs,
        runtime.CriRuntime(containerd.url, None),
        identity="catalog-f",
        marker=tmp_path / "m.json",
        backoff=FAST,
    )
    assert again.run_once() and again.pulls_started == 0


def test_bounded_attempts_give_up_and_report(
    registry: Registry, engine: Dockerd | Podman, unique: str
) -> None:
    from tests.servers import free_port

    down = f"127.0.0.1:{free_port()}/lang{unique}/never:ci"  # no answer: worth retrying
    missing = f"{registry.host}/lang{unique}/never:ci"  # the registry's answer: no such image
    puller = pull.Puller(
        [down, missing],
        runtime.EngineRuntime(engine.url, None),
        identity="x",
        attempts=3,
        backoff=FAST,
    )
    assert not puller.run_once()
    state = puller.states()[down]
    assert (
        state["state"] == "failed"
        and state["attempts"] == 3
        and "connection refused" in state["error"]
    )
    state = puller.states()[missing]
    assert (
        state["state"] == "failed"
        and state["attempts"] == 1
        and "manifest unknown" in state["error"]
    )


def test_unknown_backend() -> None:
    from startpoints.errors import StartpointsError

    with pytest.raises(StartpointsError, match="not docker, cri or none"):
        runtime.runtime("kubelet", None, None)


def test_credentials_from_docker_config_reach_the_cri_for_a_private_registry(
    containerd: Containerd, tmp_path: Path, unique: str
) -> None:
    import base64
    import json

    from tests.servers import AuthRegistry

    private = AuthRegistry(tmp_path / "private", "hiker", "s3cr3t").start()
    try:
        config = tmp_path / "config.json"
        config.write_text(
            json.dumps(
                {"auths": {private.host: {"auth": base64.b64encode(b"hiker:s3cr3t").decode()}}}
            )
        )
        ref = parse(f"{private.host}/lang{unique}/private:ci")
        push_language_image(Stores(docker_config=config), ref, content="private")
        hosts = (
            containerd.workdir / "certs.d" / private.host
        )  # containerd reads hosts.toml at each pull
        hosts.mkdir(parents=True)
        (hosts / "hosts.toml").write_text(
            f'server = "http://{private.host}"\n[host."http://{private.host}"]\n  capabilities = ["pull", "resolve"]\n'
        )

        anonymous = pull.Puller(
            [str(ref)],
            runtime.CriRuntime(containerd.url, None),
            identity="p",
            attempts=1,
            backoff=FAST,
        )
        assert not anonymous.run_once()
        logged_in = pull.Puller(
            [str(ref)],
            runtime.CriRuntime(containerd.url, config),
            identity="p",
            attempts=1,
            backoff=FAST,
        )
        assert logged_in.run_once()
        assert str(ref) in containerd.ctr_images()
        assert "s3cr3t" not in str(anonymous.states())
    finally:
        private.stop()


def test_the_pull_order_is_the_priority_list_then_smallest_first_unknown_sizes_last() -> None:
    sizes = {"a": 300, "b": 100, "c": 200, "d": 100}
    assert order(["e", "a", "b", "c", "d", "b"], sizes) == ["b", "d", "c", "a", "e"]
    assert order(["e", "a", "b", "c", "d"], sizes, first=["a", "x", "e"]) == [
        "a", "e", "b", "d", "c"
    ]  # fmt: skip
    assert order(["b", "a"], {}) == ["a", "b"]


def big_image(
    registry: Registry, unique: str, size: int, name: str = "big"
) -> tuple[Reference, int]:
    """An image with one layer of `size` incompressible bytes; returns it and its fetch size."""
    import json
    import os
    import tempfile

    from startpoints.oci import image, layer, write

    ref = parse(f"{registry.host}/lang{unique}/{name}:ci")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "blob.bin").write_bytes(os.urandom(size))
        packed = layer.from_dir(Path(tmp), "opt/language")
    built = image.build([packed], created="2026-01-01T00:00:00Z", annotations={})
    store = Stores().for_ref(ref)
    write.write(store, ref, built)
    manifest = json.loads(store.fetch_manifest(ref)[0])
    return ref, manifest["config"]["size"] + sum(item["size"] for item in manifest["layers"])


def test_the_engine_reports_bytes_as_they_arrive_and_the_totals_add_up(
    registry: Registry, engine: Dockerd | Podman, unique: str
) -> None:
    ref, size = big_image(registry, unique, 8 * 1024 * 1024)
    small = images(registry, unique, count=1)[0]
    told: dict[str, list[int]] = {str(ref): [], str(small): []}
    seen = told[str(ref)]
    backend = runtime.EngineRuntime(engine.url, None)

    class Watching(Around):
        def pull(self, image: str, digest: str | None, progress: runtime.Progress) -> None:
            backend.pull(
                image, digest, lambda fetched: (told[image].append(fetched), progress(fetched))
            )

    puller = pull.Puller(
        [str(ref), str(small)], Watching(backend), identity="b", attempts=1, sizes={str(ref): size}
    )
    before = puller.progress()
    assert (before["bytes_done"], before["bytes_total"], before["sized"]) == (0, size, 1)
    assert puller.run_once()
    assert seen == sorted(seen) and all(0 < b <= size for b in seen)
    if isinstance(engine, Dockerd):  # Docker's stream counts a layer's bytes as they arrive
        assert any(b < size for b in seen)
    else:  # podman 4.3's says when each layer is done, with no bytes: whole at the end
        assert len(set(seen)) <= 2  # config and layer, each when complete
    after = puller.progress()
    assert (after["bytes_done"], after["bytes_total"], after["eta_seconds"]) == (size, size, 0.0)
    assert puller.states()[str(ref)]["fetched"] == size


def test_the_cri_counts_an_image_whole_once_it_is_present(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    ref, size = big_image(registry, unique, 1024 * 1024)
    puller = pull.Puller(
        [str(ref)], runtime.CriRuntime(containerd.url, None), identity="c", attempts=1,
        sizes={str(ref): size},
    )  # fmt: skip
    assert puller.progress()["bytes_done"] == 0
    assert puller.run_once()
    assert puller.progress()["bytes_done"] == size


def trust(containerd: Containerd, host: str) -> None:
    """containerd reads certs.d/HOST/hosts.toml at each pull: a plain-HTTP registry."""
    hosts = containerd.workdir / "certs.d" / host
    hosts.mkdir(parents=True, exist_ok=True)
    (hosts / "hosts.toml").write_text(
        f'server = "http://{host}"\n[host."http://{host}"]\n  capabilities = ["pull", "resolve"]\n'
    )


def behind(host: str, refs: list[Reference]) -> list[Reference]:
    """The same images, named through the proxy at `host`."""
    return [parse(f"{host}/{ref.repository}:{ref.tag}") for ref in refs]


def test_a_rate_limited_registry_is_left_alone_as_a_whole_then_asked_again(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    """Docker Hub's limit, played by a proxy: after one pull, 429 TOOMANYREQUESTS. The puller
    holds the whole registry (no manifest GET reaches it while held, whatever image), says so
    on /ready and /status, and pulls the rest once the hold ends."""
    from tests.servers import DockerHubLimits

    hub = DockerHubLimits(registry.host, allowed=1)
    trust(containerd, hub.host)
    try:
        refs = behind(hub.host, images(registry, unique, count=3))
        puller = pull.Puller(
            [str(r) for r in refs],
            runtime.CriRuntime(containerd.url, None),
            identity="r",
            jobs=1,
            backoff=FAST,
            rate_limit_wait=3,  # ±20%: long enough to look, short enough to wait out
        )
        puller.poke()

        def told() -> list[str]:
            return [s["error"] or "" for s in puller.states().values() if s["state"] == "waiting"]

        def held() -> bool:  # the hold, and the image it stopped saying so: polled for, each
            said = f"rate limited by {hub.host} until ~"  # set by the puller's own thread
            return "rate_limited" in puller.progress() and any(said in e for e in told())

        wait_until(held, "the registry held, and an image waiting on it")
        ready, detail = puller.ready()
        assert not ready and list(detail["rate_limited"]) == [hub.host]
        held_at = hub.manifest_gets
        # while held, nothing more is asked of it: poll the puller, not the clock
        for _ in range(20):
            assert puller.progress().get("rate_limited")
        assert hub.manifest_gets == held_at

        hub.allowed = 100
        wait_until(lambda: puller.ready()[0], "every image present after the hold", deadline=30)
        assert all(str(r) in containerd.ctr_images() for r in refs)
    finally:
        puller.stop()
        hub.close()


def test_a_one_shot_pull_reports_the_rate_limit_and_does_not_wait(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    from tests.servers import DockerHubLimits

    hub = DockerHubLimits(registry.host, allowed=0)
    trust(containerd, hub.host)
    try:
        refs = behind(hub.host, images(registry, unique, count=3))
        cri = runtime.CriRuntime(containerd.url, None)
        asked: list[int] = []

        class Counting(Around):
            def pull(self, image: str, digest: str | None, progress: runtime.Progress) -> None:
                try:
                    cri.pull(image, digest, progress)
                finally:
                    asked.append(hub.manifest_gets)

        puller = pull.Puller(
            [str(r) for r in refs], Counting(cri), identity="o", jobs=1, attempts=3, backoff=FAST
        )
        assert not puller.run_once()
        errors = [s["error"] for s in puller.states().values() if s["state"] == "failed"]
        assert len(errors) == 3
        assert "429" in errors[0] or "toomanyrequests" in errors[0].lower()
        assert all(f"rate limited by {hub.host} until ~" in e for e in errors[1:])
        # one PullImage (containerd retries a 429 inside it, its own doing), and nothing after
        assert len(asked) == 1 and hub.manifest_gets == asked[0]
    finally:
        hub.close()


def test_superseded_images_are_listed_then_evicted_but_never_one_in_use_or_outside(
    registry: Registry, engine: Dockerd | Podman, unique: str
) -> None:
    """On each engine: yesterday's tags of the catalog's repository go; one a container
    uses stays, as does a tag sharing its image with today's, and another repository's."""
    repo = f"{registry.host}/lang{unique}/python_pytest"
    other = f"{registry.host}/lang{unique}/elsewhere:old"
    for tag, content in [("new", "today"), ("alias", "today"), ("old1", "monday"),
                         ("old2", "tuesday")]:  # fmt: skip
        push_language_image(Stores(), parse(f"{repo}:{tag}"), content=content)
    push_language_image(Stores(), parse(other), content="another language")
    backend = runtime.EngineRuntime(engine.url, None)
    for name in (f"{repo}:old1", f"{repo}:old2", f"{repo}:alias", other):
        backend.pull(name, None, lambda _fetched: None)
    client = docker.DockerClient(base_url=engine.url)
    container = client.containers.create(f"{repo}:old2", command=["x"])
    try:
        listing = pull.Puller([f"{repo}:new"], backend, identity="e", attempts=1, keep_superseded=0)
        assert listing.run_once()
        superseded = listing.superseded()
        assert [(e["image"], e["state"]) for e in superseded["images"]] == [
            (f"{repo}:old1", "would remove"),
            (f"{repo}:old2", "in use"),
        ]
        assert superseded["bytes"] == superseded["images"][0]["bytes"] > 0
        assert backend.held(f"{repo}:old1")  # listed only

        evicting = pull.Puller(
            [f"{repo}:new"], backend, identity="e", attempts=1, evict=True, keep_superseded=0
        )
        assert evicting.run_once()
        assert [e["state"] for e in evicting.superseded()["images"]] == ["removed", "in use"]
        assert not backend.held(f"{repo}:old1")
        for kept in (f"{repo}:old2", f"{repo}:alias", f"{repo}:new", other):
            assert backend.held(kept), kept
    finally:
        container.remove()


def test_superseded_images_are_evicted_through_the_cri(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    repo = f"{registry.host}/lang{unique}/java_junit"
    for tag in ("new", "old"):
        push_language_image(Stores(), parse(f"{repo}:{tag}"), content=f"java {tag}")
    backend = runtime.CriRuntime(containerd.url, None)
    backend.pull(f"{repo}:old", None, lambda _fetched: None)
    listing = pull.Puller([f"{repo}:new"], backend, identity="c", attempts=1, keep_superseded=0)
    assert listing.run_once()
    assert [(e["image"], e["state"]) for e in listing.superseded()["images"]] == [
        (f"{repo}:old", "would remove")
    ]
    evicting = pull.Puller(
        [f"{repo}:new"], backend, identity="c", attempts=1, evict=True, keep_superseded=0
    )
    assert evicting.run_once()
    assert evicting.superseded()["images"][0]["state"] == "removed"
    assert f"{repo}:old" not in containerd.ctr_images()
    assert f"{repo}:new" in containerd.ctr_images()


@pytest.fixture
def small_image_fs() -> Iterator[Path]:
    """A 64 MiB tmpfs: the runtime's image filesystem, small enough to fill."""
    import subprocess
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="spfs", dir="/tmp"))  # short: podman's runroot
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)
    where.rmdir()


@pytest.mark.parametrize("kind", ["podman", "containerd"])
def test_only_what_fits_below_the_gc_threshold_is_pulled_and_the_rest_is_named(
    registry: Registry, unique: str, small_image_fs: Path, kind: str
) -> None:
    """The runtime's own storage on a 64 MiB tmpfs: two images of three fit below 85%."""
    from startpoints.prepull.budget import Budget

    if runtime == "podman":
        engine: Any = Podman(small_image_fs / "p", insecure_registries=(registry.host,)).start()
        backend: runtime.Runtime = runtime.EngineRuntime(engine.url, None)
    else:
        engine = Containerd(small_image_fs / "c", plain_http_registries=(registry.host,)).start()
        backend = runtime.CriRuntime(engine.url, None)
    try:
        made = [big_image(registry, unique, 10 * 1024 * 1024, name=f"lang{i}") for i in range(3)]
        sizes = {str(ref): size for ref, size in made}
        budget = Budget(small_image_fs, limit=85, expansion=2.0)  # ~20 MiB each; room ~53 MiB
        puller = pull.Puller(
            list(sizes), backend, identity="d", attempts=1, sizes=sizes, budget=budget
        )
        assert not puller.run_once()
        states = puller.states()
        assert sorted(s["state"] for s in states.values()) == ["no room", "present", "present"]
        (over,) = [s["error"] for s in states.values() if s["state"] == "no room"]
        assert "does not fit: 20.0 MiB needed" in over and f"below 85% of {small_image_fs}" in over
        ready, detail = puller.ready()
        assert not ready and "does not fit" in detail["last_error"]
        stat = os.statvfs(small_image_fs)
        assert (stat.f_blocks - stat.f_bfree) / stat.f_blocks < 0.85  # the disk was not filled
    finally:
        engine.stop()


def test_with_a_quota_read_by_a_free_head_no_more_pulls_start_than_remain(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    """The registry says (on a HEAD, which Docker Hub does not count) that one pull remains:
    one image is pulled, the rest wait on the registry's hold, and no 429 is ever met."""
    from startpoints.oci.registry import RegistryStore
    from tests.servers import DockerHubLimits

    hub = DockerHubLimits(registry.host, allowed=1)
    trust(containerd, hub.host)
    store = RegistryStore(hub.host, plain_http=True)
    try:
        refs = behind(hub.host, images(registry, unique, count=3))
        assert store.head(refs[0])[1].remaining == 1
        puller = pull.Puller(
            [str(r) for r in refs], runtime.CriRuntime(containerd.url, None), identity="q",
            jobs=1, attempts=2, backoff=FAST,
            look=lambda image: store.head(parse(image)), check_quota=True,
        )  # fmt: skip
        assert not puller.run_once()
        states = sorted(s["state"] for s in puller.states().values())
        assert states == ["failed", "failed", "present"]
        assert all(
            f"rate limited by {hub.host} until ~" in str(s["error"])
            for s in puller.states().values()
            if s["state"] == "failed"
        )
        assert hub.refused == 0
    finally:
        hub.close()
