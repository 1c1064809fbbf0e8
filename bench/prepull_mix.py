"""Benchmark: pre-pull with cyber-dojo's real size mix, against the runtime's own best.

The language images of ../shared/corpus/languages.tsv (82 with a size; every EVERY-th of
them), each one layer of incompressible bytes at its compressed size scaled down by SCALE
(1/20 by default: 1.1 GiB for all, the largest 52 MiB), in a loopback registry. Into a fresh
containerd (CRI) and a fresh dockerd (Engine API) each time, in one run:

- ours: `startpoints pull CATALOG --pull cri|docker` as an operator runs it, a whole
  process, on a catalog of the corpus start points naming these images (their digests and
  sizes recorded): each image pulled by digest, then tagged, and pinned on containerd, JOBS
  at once, in its order (prepull/plan.py: smallest first);
- ours with another order given as `--pull-first` would give it: the smaller half smallest
  first, then the larger half largest first (the largest images started before the tail);
- the runtime's own best: every image at once, all CRI `PullImage` calls on one channel
  (what kubelet does with parallel pulls unlimited), or all Engine API pulls at once, also a
  whole process.

Each row is timed as a user times it, from the process's start: half present when the
runtime first lists half the images (asked every 50 ms), all present when the process ends.

Printed: time until half the images are present (most start points usable soonest), time
until all are, and the ratios. Run: python bench/prepull_mix.py [SCALE [JOBS [EVERY]]]
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Containerd, Dockerd, Registry  # noqa: E402
from tests.test_corpus import stub  # noqa: E402

from startpoints.core.reference import parse  # noqa: E402
from startpoints.oci import (  # noqa: E402
    image,
    layer,
    runtime,  # noqa: E402
    write,
)
from startpoints.oci.stores import Stores  # noqa: E402
from startpoints.workflows import assemble  # noqa: E402

SCALE = 20
EVERY = 1
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
JOBS = 8  # the default of serve and pull (--pull-jobs)
CORPUS = ROOT.parent / "shared" / "corpus" / "languages.tsv"


def make_images(registry: Registry, work: Path, scale: int, every: int) -> dict[str, int]:
    """name → compressed size as the catalog records it (config + layer)."""
    rng = random.Random(11)
    sizes: dict[str, int] = {}
    with CORPUS.open() as rows:
        sized = [r for r in csv.DictReader(rows, delimiter="\t")]
        # the one whose image the corpus could not size is left out
        sized = [r for r in sized if r["compressed_image_bytes"].isdigit()]
        for row in sized[::every]:
            built = image.build(
                [one_file_layer(rng.randbytes(int(row["compressed_image_bytes"]) // scale))],
                created="2026-01-01T00:00:00Z",
                annotations={},
            )
            ref = parse(f"{registry.host}/cdl/{row['name'].replace('-', '_')}:ci")
            write.write(Stores().for_ref(ref), ref, built)
            sizes[str(ref)] = sum(blob.descriptor.size for blob in built.blobs)
    return sizes


def one_file_layer(data: bytes) -> layer.Layer:
    """opt/lang/lib.bin holding `data`: a language image's bulk (layer.from_dir packs start
    points, and refuses trees this large)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        entry = tarfile.TarInfo("opt/lang/lib.bin")
        entry.size = len(data)
        tar.addfile(entry, io.BytesIO(data))
    raw = out.getvalue()
    return layer.Layer(layer.gzip_reproducibly(raw), "sha256:" + hashlib.sha256(raw).hexdigest())


def make_catalog(work: Path, sizes: dict[str, int]) -> Path:
    """A languages catalog of the corpus start points named after the images, each one's
    image_name pointing at its image; the digests and sizes recorded by the lookup."""
    stub("languages", work / "stubbed")
    by_repository = {p.name.replace("-", "_"): p for p in (work / "stubbed").iterdir()}
    folders = []
    for name in sizes:
        folder = by_repository[name.rsplit("/", 1)[1].split(":")[0]]
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["image_name"] = name
        (folder / "manifest.json").write_text(json.dumps(manifest))
        folders.append(str(folder))
    request = assemble.Request(sources=folders, output=work / "catalog", images="verify")
    assemble.assemble(request, Stores())
    return work / "catalog"


ALL_AT_ONCE = """
import sys, threading
from startpoints.oci import runtime
kind, endpoint, images = sys.argv[1], sys.argv[2], sys.argv[3:]
backend = (runtime.CriRuntime if kind == "cri" else runtime.EngineRuntime)(endpoint, None)
threads = [threading.Thread(target=backend.pull, args=(i, None, lambda _: None)) for i in images]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def timed(command: list[str], backend: runtime.Runtime, images: list[str]) -> tuple[float, float]:
    """(seconds until half are present, seconds until the process ends): a whole process,
    the images seen arriving by asking the runtime what it holds every 50 ms."""
    seen: dict[str, float] = {}
    finished = threading.Event()
    started = time.perf_counter()

    def watch() -> None:
        while not finished.wait(0.05):
            for local in backend.local():
                for tag in local.tags:
                    seen.setdefault(tag, time.perf_counter() - started)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        subprocess.run(command, check=True, capture_output=True)
        ended = time.perf_counter() - started
    finally:
        finished.set()
        watcher.join()
    times = sorted(seen[image] for image in images if image in seen)
    for local in backend.local():  # present at the end, whether or not a poll caught it
        for tag in local.tags:
            seen.setdefault(tag, ended)
    assert all(image in seen for image in images), f"{len(times)} of {len(images)} present"
    times = sorted(seen[image] for image in images)
    return times[(len(images) + 1) // 2 - 1], ended


def halves(sizes: dict[str, int]) -> list[str]:
    """The smaller half smallest first, then the larger half largest first."""
    ascending = sorted(sizes, key=lambda image: (sizes[image], image))
    half = (len(ascending) + 1) // 2
    return ascending[:half] + ascending[half:][::-1]


def command(
    label: str, kind: str, endpoint: str, catalog: Path, sizes: dict[str, int]
) -> list[str]:
    """`startpoints pull` as an operator runs it (the catalog's digests and sizes, JOBS at
    once), or the runtime's own all-at-once, each a whole process."""
    if label.startswith("all"):
        return [sys.executable, "-c", ALL_AT_ONCE, kind, endpoint, *sizes]
    pull = [sys.executable, "-m", "startpoints", "pull", str(catalog), "--pull", kind]
    pull += ["--pull-endpoint", endpoint, "--pull-jobs", str(JOBS), "--attempts", "1"]
    if "halves" in label:
        pull += [arg for image in halves(sizes) for arg in ("--pull-first", image)]
    return pull


def _containerd(work: Path, registry: Registry) -> tuple[Containerd, runtime.Runtime]:
    node = Containerd(work, plain_http_registries=(registry.host,)).start()
    return node, runtime.CriRuntime(node.url, None)


def _dockerd(work: Path, _registry: Registry) -> tuple[Dockerd, runtime.Runtime]:
    engine = Dockerd(work).start()  # loopback registries are plain HTTP to any Docker
    return engine, runtime.EngineRuntime(engine.url, None)


RUNTIMES: dict[str, Callable[[Path, Registry], tuple[Any, runtime.Runtime]]] = {
    "containerd CRI": _containerd,
    "dockerd Engine API": _dockerd,
}
LABELS = ("ours", "ours, halves (largest of the rest first)", "all at once (runtime)")


def main() -> None:
    global JOBS
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else SCALE
    JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else JOBS
    every = int(sys.argv[3]) if len(sys.argv) > 3 else EVERY
    work = Path(tempfile.mkdtemp(prefix="pm", dir="/tmp"))  # short: the runtimes' sockets
    registry = Registry(work / "registry").start()
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        sizes = make_images(registry, work, scale, every)
        catalog = make_catalog(work, sizes)
        for run in range(RUNS):
            for label in LABELS:
                for runtime in RUNTIMES:
                    node, backend = RUNTIMES[runtime](
                        work / f"{runtime[0]}{run}{LABELS.index(label)}", registry
                    )
                    try:
                        kind = "cri" if runtime.startswith("containerd") else "docker"
                        how = command(label, kind, node.url, catalog, sizes)
                        results.setdefault(f"{runtime}, {label}", []).append(
                            timed(how, backend, list(sizes))
                        )
                    finally:
                        node.stop()
                        shutil.rmtree(node.workdir, ignore_errors=True)
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    total = sum(sizes.values())
    print(
        f"pre-pull {len(sizes)} images, cyber-dojo's size mix / {scale} ({total / 2**20:.0f} MiB),"
        f" loopback registry, ours {JOBS} at once; median of {RUNS}"
    )
    median = {
        label: (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        for label, runs in results.items()
    }
    for label, (half, whole) in median.items():
        print(f"  {label:45} half present {half:6.2f} s   all present {whole:6.2f} s")
    for runtime in RUNTIMES:
        best = median[f"{runtime}, all at once (runtime)"]
        now = median[f"{runtime}, ours"]
        other = median[f"{runtime}, ours, halves (largest of the rest first)"]
        print(
            f"  {runtime}: all present, ours / all at once = {now[1] / best[1]:.2f}x "
            f"(target <= 1.1; halves: {other[1] / best[1]:.2f}x);"
            f" half present, halves / ours = {other[0] / now[0]:.2f}x"
        )


if __name__ == "__main__":
    main()
