"""A node over months, one rule at a time: a moved tag, the image GC, the disk as the kubelet
counts it, overlapping rollouts, old katas, errors in the loop, quota windows and the marker.
Real runtimes (Docker's dockerd, podman, containerd's CRI) and a real registry throughout."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from startpoints.core.backoff import Backoff
from startpoints.core.reference import parse
from startpoints.oci import runtime
from startpoints.oci.cri import PINNED, Cri
from startpoints.oci.registry import RegistryStore
from startpoints.oci.stores import Stores
from startpoints.prepull.budget import Budget
from startpoints.prepull.puller import Puller
from startpoints.prepull.record import NodeRecord
from tests.conftest import push_language_image
from tests.prepull.test_puller import trust
from tests.servers import Containerd, Dockerd, Podman, Registry, wait_until

FAST = Backoff(first=0.05, cap=0.2)


def look(registry: Registry) -> Any:
    store = RegistryStore(registry.host, plain_http=True)
    return lambda image: store.head(parse(image))


def push(image: str, content: str) -> str:
    """`content` under `image`: distinct per image, so no two tests share an image id."""
    return push_language_image(Stores(), parse(image), content=f"{content} as {image}")


def two_versions(repo: str) -> tuple[str, str, dict[str, str]]:
    """A language image's v1 and v2 tags in `repo`, pushed, and their digests."""
    v1, v2 = f"{repo}:1111111", f"{repo}:2222222"
    return v1, v2, {v1: push(v1, "v1"), v2: push(v2, "v2")}


def delete_manifest(registry: Registry, image: str, digest: str) -> None:
    ref = parse(image)
    request = urllib.request.Request(
        f"http://{registry.host}/v2/{ref.repository}/manifests/{digest}", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 202


@pytest.fixture(params=["dockerd", "podman", "containerd"])
def node(request: pytest.FixtureRequest, registry: Registry) -> runtime.Runtime:
    """Each runtime a node pulls through: Docker's engine, podman's, containerd's CRI."""
    server: Dockerd | Podman | Containerd = request.getfixturevalue(str(request.param))
    if isinstance(server, Containerd):
        return runtime.CriRuntime(server.url, None)
    return runtime.EngineRuntime(server.url, None)


# --- 1. a moved tag ---------------------------------------------------------------------------


def test_a_moved_tag_is_pulled_as_recorded_tagged_back_and_named(
    registry: Registry, node: runtime.Runtime, unique: str
) -> None:
    image = f"{registry.host}/moved{unique}/java:abc1234"
    recorded = push(image, "as assembled")
    moved = push(image, "pushed again by hand")  # the tag now names other content
    node.pull(image, None, lambda _: None)  # and this node already holds that
    assert node.held(image).digests == {moved}  # type: ignore[union-attr]

    puller = Puller([image], node, identity="a", digests={image: recorded}, attempts=1,
                    look=look(registry))  # fmt: skip
    assert puller.run_once()
    assert node.held(image).digests == {recorded}  # type: ignore[union-attr]
    state = puller.states()[image]
    assert state["moved"] == f"tag moved: {image} expected {recorded} registry has {moved}"
    assert puller.progress()["moved"] == {image: state["moved"]}

    before = registry.log_text().count("\n")
    again = Puller([image], node, identity="a", digests={image: recorded}, attempts=1,
                   look=look(registry))  # fmt: skip
    assert again.run_once() and again.pulls_started == 0
    assert registry.log_text().count("\n") == before  # a warm node asks no registry


def test_a_new_node_gets_the_recorded_content_under_the_tag(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    image = f"{registry.host}/fresh{unique}/java:abc1234"
    recorded = push(image, "as assembled")
    push(image, "moved")
    node = runtime.CriRuntime(containerd.url, None)
    puller = Puller([image], node, identity="b", digests={image: recorded}, attempts=1,
                    look=look(registry))  # fmt: skip
    assert puller.run_once()
    assert node.held(image).digests == {recorded}  # type: ignore[union-attr]
    assert "registry has sha256:" in puller.states()[image]["moved"]
    assert image in containerd.ctr_images()  # under the catalog's tag, as kubelet names it


def test_a_recorded_digest_that_can_no_longer_be_had_fails_by_name(
    registry: Registry, dockerd: Dockerd, unique: str
) -> None:
    image = f"{registry.host}/gone{unique}/java:abc1234"
    recorded = push(image, "as assembled")
    push(image, "moved")
    delete_manifest(registry, image, recorded)
    node = runtime.EngineRuntime(dockerd.url, None)
    puller = Puller([image], node, identity="c", digests={image: recorded}, attempts=2,
                    backoff=FAST)  # fmt: skip
    assert not puller.run_once()
    error = puller.states()[image]["error"]
    assert f"{image}: {recorded}, as the catalog recorded it, cannot be pulled" in error
    assert node.held(image) is None  # not the moved content in its place


def test_the_one_shot_pull_says_each_move_on_stderr(
    registry: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    import sys

    image = f"{registry.host}/said{unique}/java:abc1234"
    recorded = push(image, "as assembled")
    moved = push(image, "moved")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    from tests.conftest import minimal_start_point

    minimal_start_point(catalog / "0", "Java", image)
    index = {"kind": "languages", "start_points": [
        {"manifest": "0/manifest.json", "image_digest": recorded}]}  # fmt: skip
    (catalog / "catalog.json").write_text(json.dumps(index))
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "pull", str(catalog), "--pull", "docker",
         "--pull-endpoint", dockerd.url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"tag moved: {image} expected {recorded} registry has {moved}" in done.stderr


# --- 2. pinned against the kubelet's image GC -------------------------------------------------


def kubelet_gc(cri: Cri) -> list[str]:
    """The kubelet's image GC at its most eager: every image no container uses and that the
    runtime does not report pinned (any of its names labelled) is removed. Its tags."""
    used = cri.in_use()
    removed = []
    for image_id, tags, digested, _ in cri.listed():
        names = [*tags, *digested]
        pinned = any((cri.labels(n) or {}).get(PINNED) == "pinned" for n in names)
        if not pinned and image_id not in used and not used.intersection(names):
            cri.remove(image_id)
            removed += tags
    return removed


def test_pulled_images_are_pinned_and_survive_the_image_gc(
    registry: Registry, containerd: Containerd, unique: str, tmp_path: Path
) -> None:
    repo = f"{registry.host}/pin{unique}/python"
    images = {f"{repo}:{tag}": push(f"{repo}:{tag}", tag) for tag in ("one", "two")}
    stray = f"{registry.host}/pin{unique}/other:1"
    push(stray, "not ours")
    node = runtime.CriRuntime(containerd.url, None)
    node.pull(stray, None, lambda _: None)
    puller = Puller(list(images), node, identity="p", digests=images, attempts=1)
    assert puller.run_once()
    assert all(puller.states()[image]["pinned"] for image in images)
    cri = Cri(containerd.url)
    assert kubelet_gc(cri) == [stray]  # what the GC takes: the unpinned image, not ours
    assert all(node.held(image) for image in images)


# --- 3. disk counted as the kubelet counts ----------------------------------------------------


@pytest.fixture
def ext4() -> Iterator[Path]:
    """A 64 MiB ext4 with the usual 5% reserved for root: where used and available part."""
    where = Path(f"/tmp/spext4-{os.getpid()}")
    image = where.with_suffix(".img")
    where.mkdir()
    with open(image, "wb") as file:
        file.truncate(64 * 1024 * 1024)
    made = subprocess.run(["mkfs.ext4", "-q", "-m", "5", str(image)], capture_output=True)
    mounted = (
        made.returncode == 0
        and subprocess.run(
            ["mount", "-o", "loop", str(image), str(where)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:
        where.rmdir()
        image.unlink()
        pytest.skip("cannot make and loop-mount an ext4 here")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)
    where.rmdir()
    image.unlink()


def test_the_budget_counts_available_space_and_stops_at_the_low_threshold(ext4: Path) -> None:
    budget = Budget(ext4, expansion=1.0)
    assert budget.limit == 80.0  # the kubelet's image GC low threshold: its GC finds nothing
    with open(ext4 / "pulled", "wb") as file:
        file.write(os.urandom(budget.room()))
    stat = os.statvfs(ext4)
    as_the_kubelet_counts = 100 - stat.f_bavail * 100 / stat.f_blocks
    assert 79 <= as_the_kubelet_counts <= 80.5  # the reserve counted as used, as it does
    assert budget.room() < 64 * 1024  # and nothing more fits


# --- 4. overlapping rollouts ------------------------------------------------------------------


def test_an_older_catalogs_puller_never_removes_what_a_newer_one_names(
    registry: Registry, engine: Dockerd | Podman, unique: str, tmp_path: Path
) -> None:
    repo = f"{registry.host}/roll{unique}/python"
    v1, v2, digests = two_versions(repo)
    node = runtime.EngineRuntime(engine.url, None)
    record = NodeRecord(tmp_path / "node.json")
    old = Puller([v1], node, identity="v1", digests=digests, record=record, attempts=1,
                 evict=True, keep_superseded=0)  # fmt: skip
    assert old.run_once()
    new = Puller([v2], node, identity="v2", digests=digests, record=record, attempts=1,
                 evict=True, keep_superseded=60)  # fmt: skip
    assert new.run_once()
    assert old.run_once()  # the old pod's recheck, mid-rollout, with eviction on
    assert node.held(v2) is not None
    (entry,) = old.superseded()["images"]
    assert entry["image"] == v2 and "a newer catalog's puller decides" in entry["state"]
    (entry,) = new.superseded()["images"]  # the newest keeps v1 for its katas
    assert entry["image"] == v1 and entry["state"].startswith("kept until ")


def test_nothing_is_evicted_before_the_evicting_catalog_is_complete(
    registry: Registry, containerd: Containerd, unique: str, tmp_path: Path
) -> None:
    repo = f"{registry.host}/incomplete{unique}/python"
    v1, v2, missing = f"{repo}:1111111", f"{repo}:2222222", f"{repo}-other:3333333"
    digests = {v1: push(v1, "v1"), v2: push(v2, "v2")}
    node = runtime.CriRuntime(containerd.url, None)
    record = NodeRecord(tmp_path / "node.json")
    assert Puller([v1], node, identity="v1", digests=digests, record=record, attempts=1).run_once()
    tight = Budget(containerd.workdir, limit=0.0)  # no room at all: the disk under pressure
    new = Puller([v2, missing], node, identity="v2", digests=digests, record=record,
                 attempts=1, evict=True, keep_superseded=0, budget=tight,
                 sizes={v2: 1, missing: 1})  # fmt: skip
    assert not new.run_once()
    assert node.held(v1) is not None  # not evicted to make room: the catalog is not complete
    assert new.superseded() == {}


# --- 5. superseded is not unused: the grace period --------------------------------------------


def test_a_superseded_image_is_kept_for_the_grace_period_across_restarts_then_goes(
    registry: Registry, containerd: Containerd, unique: str, tmp_path: Path
) -> None:
    repo = f"{registry.host}/grace{unique}/python"
    v1, v2, digests = two_versions(repo)
    node = runtime.CriRuntime(containerd.url, None)
    record = NodeRecord(tmp_path / "node.json")
    assert Puller([v1], node, identity="v1", digests=digests, record=record, attempts=1).run_once()

    def evicting() -> Puller:  # a fresh process each time: what it knows is on the record
        return Puller([v2], node, identity="v2", digests=digests, record=record, attempts=1,
                      evict=True, keep_superseded=2.0)  # fmt: skip

    first = evicting()
    assert first.run_once()
    assert "last_error" not in first.progress()
    (entry,) = first.superseded()["images"]
    assert entry["state"] == f"kept until {entry['goes']}" and node.held(v1) is not None
    assert node.held(v1).pinned  # type: ignore[union-attr]  # the GC keeps it too
    since = json.loads((tmp_path / "node.json").read_text())["superseded"]
    assert list(since) == [v1]
    restarted = evicting()
    assert restarted.run_once()
    assert restarted.superseded()["images"][0]["goes"] == entry["goes"]  # not reset

    def gone() -> bool:
        again = evicting()
        again.run_once()
        return again.superseded()["images"][0]["state"] == "removed"

    wait_until(gone, "evicted once the grace period is over", deadline=20)
    assert node.held(v1) is None and node.held(v2) is not None


# --- 6. the loop outlives its errors ----------------------------------------------------------


def test_an_error_in_the_loop_is_reported_and_the_loop_goes_on(
    registry: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    image = f"{registry.host}/loop{unique}/python:1111111"
    digest = push(image, "v1")
    image_fs = tmp_path / "image-fs"  # not there yet: statvfs raises
    marker = tmp_path / "file" / "marker.json"  # its folder is a file: cannot be written
    (tmp_path / "file").write_text("")
    puller = Puller([image], runtime.EngineRuntime(dockerd.url, None), identity="l",
                    digests={image: digest}, marker=marker, backoff=FAST, recheck=0.1,
                    budget=Budget(image_fs))  # fmt: skip
    puller.poke()
    try:
        wait_until(lambda: "image-fs" in str(puller.ready()[1].get("last_error")), "reported")
        assert not puller.ready()[0]
        image_fs.mkdir()
        wait_until(lambda: puller.ready()[0], "ready once the path is there, without a restart")
        wait_until(lambda: "marker" in str(puller.progress().get("last_error")), "named")
        assert "not written" in puller.progress()["last_error"]
    finally:
        puller.stop()


def test_a_node_record_that_cannot_be_written_stops_no_pull_and_evicts_nothing(
    registry: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    """A host folder the puller's user cannot write (ECS's, say): named, and the pull goes on."""
    repo = f"{registry.host}/unrecorded{unique}/python"
    v1, v2, digests = two_versions(repo)
    node = runtime.EngineRuntime(dockerd.url, None)
    assert Puller([v1], node, identity="v1", digests=digests, attempts=1).run_once()
    (tmp_path / "file").write_text("")
    record = NodeRecord(tmp_path / "file" / "node.json")
    puller = Puller([v2], node, identity="v2", digests=digests, record=record, attempts=1,
                    evict=True, keep_superseded=0)  # fmt: skip
    assert puller.run_once()
    assert str(tmp_path / "file") in puller.progress()["last_error"]  # named
    assert node.held(v1) is not None  # without the record, nothing is evicted


# --- 7. quota windows -------------------------------------------------------------------------


def test_a_refused_registry_is_held_for_its_advertised_window(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    from tests.servers import DockerHubLimits

    hub = DockerHubLimits(registry.host, allowed=0)
    trust(containerd, hub.host)
    image = f"{hub.host}/window{unique}/python:1111111"
    push(f"{registry.host}/window{unique}/python:1111111", "v1")
    puller = Puller([image], runtime.CriRuntime(containerd.url, None), identity="w",
                    backoff=FAST, rate_limit_wait=3, look=look(hub))  # type: ignore[arg-type]  # fmt: skip
    puller.poke()
    try:
        wait_until(lambda: "rate_limited" in puller.progress(), "held")
        until = puller.progress()["rate_limited"][hub.host]
        held = time.mktime(time.strptime(until, "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime())
        assert 21600 - 60 <= held <= 21600 * 1.2 + 60  # six hours, as ratelimit-limit says
    finally:
        puller.stop()
        hub.close()


def test_with_check_quota_every_window_is_read_again_and_no_429_is_met(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    from tests.servers import DockerHubLimits

    hub = DockerHubLimits(registry.host, allowed=1)
    hub.window = 2  # a two-second window, to see several
    trust(containerd, hub.host)
    names = [f"window{unique}/image_{i}:ci" for i in range(3)]
    for name in names:
        push(f"{registry.host}/{name}", name)
    images = [f"{hub.host}/{name}" for name in names]
    puller = Puller(images, runtime.CriRuntime(containerd.url, None), identity="q", jobs=1,
                    backoff=FAST, look=look(hub), check_quota=True)  # type: ignore[arg-type]  # fmt: skip
    puller.poke()
    try:
        for pulled in (1, 2):  # the window's one pull, then held; the next window allows one
            wait_until(
                lambda n=pulled: puller.pulls_started == n and "rate_limited" in puller.progress(),
                f"{pulled} pulled, then held",
            )
            assert hub.refused == 0  # the quota read again after each hold: never a 429
            hub.allowed += 1
        wait_until(lambda: puller.ready()[0], "all three, one per window", deadline=30)
        assert hub.refused == 0
    finally:
        puller.stop()
        hub.close()


# --- 8. the marker ----------------------------------------------------------------------------


class Blocked:
    """A runtime that answers nothing until released: what a restart finds while dockerd is
    busy or slow."""

    def __init__(self, inner: runtime.Runtime) -> None:
        self.inner = inner
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        self.release.wait(30)
        return getattr(self.inner, name)


def test_a_restart_whose_marker_names_this_catalog_and_its_digests_is_ready_at_once(
    registry: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    image = f"{registry.host}/marker{unique}/python:1111111"
    digests = {image: push(image, "v1")}
    node = runtime.EngineRuntime(dockerd.url, None)
    marker = tmp_path / "marker.json"
    assert Puller([image], node, identity="m", digests=digests, marker=marker).run_once()

    slow = Blocked(node)
    restarted = Puller([image], slow, identity="m", digests=digests, marker=marker)  # type: ignore[arg-type]
    restarted.poke()
    assert restarted.ready() == (True, {})  # before the runtime has answered anything
    other = {image: "sha256:" + "0" * 64}  # the same catalog, other digests: not this marker
    assert not Puller([image], slow, identity="m", digests=other, marker=marker).ready()[0]  # type: ignore[arg-type]
    slow.release.set()
    restarted.stop()


def test_many_images_pulled_by_digest_at_once_are_each_seen_under_their_tag(
    registry: Registry, containerd: Containerd, unique: str
) -> None:
    """containerd's CRI learns of a tag made through its images service from its event
    stream, a moment later: a one-shot pull must not take that moment for a failure."""
    images = [f"{registry.host}/many{unique}/lang_{i}:1111111" for i in range(40)]
    digests = {image: push(image, "v1") for image in images}
    node = runtime.CriRuntime(containerd.url, None)
    puller = Puller(images, node, identity="many", digests=digests, attempts=1, jobs=8)
    assert puller.run_once(), {i: s["error"] for i, s in puller.states().items() if s["error"]}
