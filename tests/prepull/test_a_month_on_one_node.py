"""A month on one node, as one test: catalogs v1…v4 deployed over each other with the old
pod's puller still rechecking, a language image's tag moved by hand and pulled by tag on the
node, the disk too full for one catalog, the kubelet's image GC sweeping whatever is not
pinned, katas still naming v1's image. At the end the node holds exactly what it should, and
every anomaly was named. containerd's CRI, a real registry; the grace period is seconds."""

from __future__ import annotations

from pathlib import Path

from startpoints.oci import runtime
from startpoints.oci.cri import Cri
from startpoints.prepull.budget import Budget
from startpoints.prepull.puller import Puller
from startpoints.prepull.record import NodeRecord
from tests.prepull.test_living_node import kubelet_gc, look, push
from tests.servers import Containerd, Registry, wait_until

GRACE = 4.0  # a month, for the katas made on a superseded image


def test_a_month_on_one_node(
    registry: Registry, containerd: Containerd, unique: str, tmp_path: Path
) -> None:
    java = f"{registry.host}/month{unique}/java_junit"
    python = f"{registry.host}/month{unique}/python_pytest:5555555"
    tags = {n: f"{java}:{n}{n}{n}{n}{n}{n}{n}" for n in "1234"}
    digests = {tags[n]: push(tags[n], f"java v{n}") for n in "1234"}
    digests[python] = push(python, "python as assembled")  # every catalog recorded this
    node = runtime.CriRuntime(containerd.url, None)
    cri = Cri(containerd.url)
    record = NodeRecord(tmp_path / "startpoints-node.json")

    def catalog(n: str, **more: object) -> Puller:
        return Puller([tags[n], python], node, identity=f"v{n}", digests=digests,
                      record=record, marker=tmp_path / "marker.json", attempts=1,
                      evict=True, keep_superseded=GRACE, look=look(registry), **more)  # type: ignore[arg-type]  # fmt: skip

    def held(image: str) -> str | None:
        found = node.held(image)
        return ",".join(sorted(found.digests)) if found else None

    # day 1: v1, pinned
    v1 = catalog("1")
    assert v1.run_once()
    assert all(state["pinned"] for state in v1.states().values())

    # day 3: python's tag is pushed again by hand, and a runner on the node pulls it by tag
    moved = push(python, "python pushed again by hand")
    node.pull(python, None, lambda _: None)
    assert held(python) == moved

    # day 8: v2 deployed while v1's pod still rechecks
    v2 = catalog("2")
    assert v2.run_once()
    assert held(python) == digests[python]  # the recorded content, back under the tag
    assert v2.states()[python]["moved"] == (
        f"tag moved: {python} expected {digests[python]} registry has {moved}"
    )
    (old,) = v2.superseded()["images"]
    assert old["image"] == tags["1"] and old["state"].startswith("kept until")
    assert v1.run_once()  # the old pod's recheck removes nothing of the newer catalog's
    assert "a newer catalog's puller decides" in v1.superseded()["images"][0]["state"]
    assert held(tags["2"])

    # the kubelet's GC sweeps: the hand-pushed content goes (unpinned, named by nothing),
    # v1's image stays for its katas, pinned for the grace period
    swept = kubelet_gc(cri)
    assert tags["1"] not in swept and held(tags["1"]) == digests[tags["1"]]
    assert held(tags["2"]) and held(python) == digests[python]

    # day 15: v3 does not fit the disk: named, nothing evicted to make room, not ready
    v3 = catalog("3", sizes={tags["3"]: 10**15}, budget=Budget(containerd.workdir))
    assert not v3.run_once()
    assert v3.states()[tags["3"]]["state"] == "no room"
    assert "does not fit" in v3.ready()[1]["last_error"]
    assert held(tags["1"]) and held(tags["2"]) and not held(tags["3"])

    # day 31: v4; v1's month is over, v2's has just begun
    v4 = catalog("4")

    def v1_gone() -> bool:
        assert v4.run_once()
        return not held(tags["1"])

    wait_until(v1_gone, "v1's image evicted once its grace period is over", deadline=GRACE + 10)
    states = {e["image"]: e["state"] for e in v4.superseded()["images"]}
    assert states[tags["1"]] == "removed"
    assert states[tags["2"]].startswith("kept until")
    kubelet_gc(cri)

    # the node holds exactly: v4 and v2 (its katas' month) of java, python as recorded
    ours = sorted(t for _, ts, _, _ in cri.listed() for t in ts if f"month{unique}" in t)
    assert ours == sorted([tags["2"], tags["4"], python])
    assert held(python) == digests[python]
