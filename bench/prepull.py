"""Benchmark: pre-pull ~20 language images of a few MB through an engine (podman's Docker
API), against a sequential `podman pull` loop of the same images into a fresh store, in the
same run; then a restart with the marker: time until /ready answers 200. Run: make bench
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Podman, Registry, free_port, wait_until  # noqa: E402

from startpoints.core.reference import parse  # noqa: E402
from startpoints.oci import image, layer, write  # noqa: E402
from startpoints.oci.stores import Stores  # noqa: E402
from startpoints.workflows import assemble  # noqa: E402

IMAGES, MB, RUNS = 20, 3, 3


def make_images(registry: Registry, work: Path) -> list[str]:
    rng = random.Random(7)
    names = []
    for i in range(IMAGES):
        tree = work / f"image{i}"
        tree.mkdir()
        (tree / "lib.bin").write_bytes(rng.randbytes(MB * 1024 * 1024))
        built = image.build(
            [layer.from_dir(tree, "opt/lang")], created="2026-01-01T00:00:00Z", annotations={}
        )
        ref = parse(f"{registry.host}/cdf/lang_{i}:ci")
        write.write(Stores().for_ref(ref), ref, built)
        names.append(str(ref))
    return names


def catalog(names: list[str], work: Path) -> Path:
    sources = []
    for i, name in enumerate(names):
        sp = work / f"sp{i}"
        sp.mkdir()
        (sp / "cyber-dojo.sh").write_text("true\n")
        manifest = {
            "display_name": f"Lang {i}, Test",
            "image_name": name,
            "visible_filenames": ["cyber-dojo.sh"],
            "filename_extension": ".x",
        }
        (sp / "manifest.json").write_text(json.dumps(manifest))
        sources.append(str(sp))
    assemble.assemble(assemble.Request(sources=sources, output=work / "catalog"), Stores())
    return work / "catalog"


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-prepull-"))
    registry = Registry(work / "registry").start()
    rows: dict[str, list[float]] = {
        "startpoints pull (podman API, 4 at once)": [],
        "sequential podman pull loop (reference)": [],
        "restart with marker: serve start to /ready 200": [],
        "startpoints pull --pull cri (containerd, 4 at once)": [],
        "sequential ctr pull loop into containerd (reference)": [],
    }

    try:
        names = make_images(registry, work)
        folder = catalog(names, work)
        conf = work / "registries.conf"
        conf.write_text(
            f'unqualified-search-registries = []\n[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n'
        )
        for run in range(RUNS):
            store = work / f"loop{run}"
            started = time.perf_counter()
            for name in names:
                subprocess.run(
                    ["podman", "--root", str(store / "root"), "--runroot", str(store / "run"), "--storage-driver", "vfs", "pull", "-q", name],
                    check=True, capture_output=True, env={**os.environ, "CONTAINERS_REGISTRIES_CONF": str(conf)},
                )  # fmt: skip
            rows["sequential podman pull loop (reference)"].append(time.perf_counter() - started)
            shutil.rmtree(store, ignore_errors=True)
            cri_rows(rows, registry, names, folder, work / f"containerd{run}")

            engine = Podman(work / f"podman{run}", insecure_registries=(registry.host,)).start()
            try:
                started = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "startpoints",
                        "pull",
                        str(folder),
                        "--pull-endpoint",
                        engine.url,
                    ],
                    check=True,
                    capture_output=True,
                )
                rows["startpoints pull (podman API, 4 at once)"].append(
                    time.perf_counter() - started
                )
                marker = work / f"marker{run}.json"
                port = free_port()
                serve = [
                    sys.executable,
                    "-m",
                    "startpoints",
                    "serve",
                    str(folder),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ]
                serve += [
                    "--pull",
                    "docker",
                    "--pull-endpoint",
                    engine.url,
                    "--pull-on",
                    "start",
                    "--marker",
                    str(marker),
                    "--no-access-log",
                ]
                first = subprocess.Popen(
                    serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                wait_until(lambda: ready(port), "warm", deadline=120)  # noqa: B023
                first.terminate()
                first.wait()
                started = time.perf_counter()
                second = subprocess.Popen(
                    serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                wait_until(lambda: ready(port), "ready again", deadline=60)  # noqa: B023
                rows["restart with marker: serve start to /ready 200"].append(
                    time.perf_counter() - started
                )
                second.terminate()
                second.wait()
            finally:
                engine.stop()
                shutil.rmtree(work / f"podman{run}", ignore_errors=True)
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    median = {name: statistics.median(times) for name, times in rows.items()}
    print(
        f"pre-pull {IMAGES} images of {MB} MB (incompressible) from a loopback registry into podman (vfs), median of {RUNS}"
    )
    for name, seconds in median.items():
        print(f"  {name:50} {seconds:7.2f} s")
    cri, ctr = (
        median["startpoints pull --pull cri (containerd, 4 at once)"],
        median["sequential ctr pull loop into containerd (reference)"],
    )
    print(f"  sequential ctr loop / startpoints cri = {ctr / cri:.2f}x")
    ours, loop = (
        median["startpoints pull (podman API, 4 at once)"],
        median["sequential podman pull loop (reference)"],
    )
    print(f"  sequential loop / startpoints = {loop / ours:.2f}x")


def cri_rows(
    rows: dict[str, list[float]], registry: Registry, names: list[str], folder: Path, work: Path
) -> None:
    """The Kubernetes path: containerd's CRI (ours) against containerd's own `ctr` client pulling
    the same images one after another, each into a fresh containerd."""
    from tests.servers import Containerd

    for label in (
        "sequential ctr pull loop into containerd (reference)",
        "startpoints pull --pull cri (containerd, 4 at once)",
    ):
        (work / label.split()[0]).mkdir(parents=True)
        node = Containerd(work / label.split()[0], plain_http_registries=(registry.host,)).start()

        try:
            started = time.perf_counter()
            if label.startswith("sequential"):
                for name in names:
                    subprocess.run(
                        ["ctr", "--address", str(node.socket), "-n", "k8s.io", "images", "pull", "--plain-http", "--snapshotter", "native", name],
                        check=True, capture_output=True,
                    )  # fmt: skip
            else:
                subprocess.run(
                    [sys.executable, "-m", "startpoints", "pull", str(folder), "--pull", "cri", "--pull-endpoint", node.url],
                    check=True, capture_output=True,
                )  # fmt: skip
            rows[label].append(time.perf_counter() - started)
        finally:
            node.stop()
            shutil.rmtree(node.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
