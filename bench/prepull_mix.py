"""Benchmark: pre-pull with cyber-dojo's real size mix, against the runtime's own best.

The language images of ../shared/corpus/languages.tsv (82 with a size; every EVERY-th of
them), each one layer of incompressible bytes at its compressed size scaled down by SCALE
(1/20 by default: 1.1 GiB for all, the largest 52 MiB), in a loopback registry. Into a fresh
containerd (CRI) and a fresh dockerd (Engine API) each time, in one run:

- ours: the Puller with the catalog's sizes and digests (each image pulled by digest, then
  tagged, and pinned on containerd), JOBS at once, in its order (prepull/plan.py: smallest
  first);
- ours with another order given as `--pull-first` would give it: the smaller half smallest
  first, then the larger half largest first (the largest images started before the tail);
- the runtime's own best: every image at once, all CRI `PullImage` calls on one channel
  (what kubelet does with parallel pulls unlimited), or all Engine API pulls at once.

Printed: time until half the images are present (most start points usable soonest), time
until all are, and the ratios. Run: python bench/prepull_mix.py [SCALE [JOBS [EVERY]]]
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import shutil
import statistics
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

from startpoints.core.reference import parse  # noqa: E402
from startpoints.oci import (  # noqa: E402
    image,
    layer,
    runtime,  # noqa: E402
    write,
)
from startpoints.oci.stores import Stores  # noqa: E402
from startpoints.prepull import puller as pull  # noqa: E402

SCALE = 20
EVERY = 1
RUNS = 3
JOBS = 8  # the default of serve and pull (--pull-jobs)
CORPUS = ROOT.parent / "shared" / "corpus" / "languages.tsv"


DIGESTS: dict[str, str] = {}  # name → digest, as the catalog records it: ours pulls by it


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
            DIGESTS[str(ref)] = write.write(Stores().for_ref(ref), ref, built).descriptor.digest
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


def timed(pulls: Callable[[Callable[[str], None]], None], count: int) -> tuple[float, float]:
    """(seconds until half are present, seconds until all are)."""
    started = time.perf_counter()
    times: list[float] = []
    lock = threading.Lock()

    def done(_image: str) -> None:
        with lock:
            times.append(time.perf_counter() - started)

    pulls(done)
    times.sort()
    assert len(times) == count, f"{len(times)} of {count} present"
    return times[(count + 1) // 2 - 1], times[-1]


def halves(sizes: dict[str, int]) -> list[str]:
    """The smaller half smallest first, then the larger half largest first."""
    ascending = sorted(sizes, key=lambda image: (sizes[image], image))
    half = (len(ascending) + 1) // 2
    return ascending[:half] + ascending[half:][::-1]


def ours(backend: runtime.Runtime, sizes: dict[str, int], other_order: bool) -> Callable[..., None]:
    def run(done: Callable[[str], None]) -> None:
        puller = pull.Puller(
            list(sizes),
            backend,
            identity="bench",
            digests=DIGESTS,  # by digest, then tagged (and pinned on containerd), as served
            jobs=JOBS,
            attempts=1,
            sizes=sizes,
            first=halves(sizes) if other_order else (),
        )
        puller.on_done = lambda image, error: done(image) if error is None else None
        assert puller.run_once(), {i: s["error"] for i, s in puller.states().items() if s["error"]}

    return run


def all_at_once(backend: runtime.Runtime, sizes: dict[str, int]) -> Callable[..., None]:
    def run(done: Callable[[str], None]) -> None:
        def one(name: str) -> None:
            backend.pull(name, None, lambda _fetched: None)
            done(name)

        threads = [threading.Thread(target=one, args=(name,)) for name in sizes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return run


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
        for run in range(RUNS):
            for label in LABELS:
                for runtime in RUNTIMES:
                    node, backend = RUNTIMES[runtime](
                        work / f"{runtime[0]}{run}{LABELS.index(label)}", registry
                    )
                    try:
                        how = (
                            all_at_once(backend, sizes)
                            if label.startswith("all")
                            else ours(backend, sizes, label != "ours")
                        )
                        results.setdefault(f"{runtime}, {label}", []).append(timed(how, len(sizes)))
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
