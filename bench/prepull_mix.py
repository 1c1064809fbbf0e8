"""Benchmark: pre-pull with cyber-dojo's real size mix, against the runtime's own best.

The language images of ../shared/corpus/languages.tsv (82 with a size), each one layer of incompressible
bytes at its compressed size scaled down by SCALE, in a loopback registry. Into a fresh
containerd (CRI) and a fresh podman (Engine API) each time, in one run:

- ours, smallest first (the default): the Puller with the catalog's sizes and digests (each
  image pulled by digest, then tagged, and pinned on containerd), JOBS at once;
- ours, alphabetical (the order before): the same, ordered by name;
- the runtime's own best: every image at once, all CRI `PullImage` calls on one channel
  (what kubelet does with parallel pulls unlimited), or all Engine API pulls at once.

Printed: time until half the images are present (most start points usable soonest), time
until all are, and ours / the runtime's. Run: python bench/prepull_mix.py [SCALE [JOBS]]
"""

from __future__ import annotations

import csv
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Containerd, Podman, Registry  # noqa: E402

from startpoints.core.reference import parse  # noqa: E402
from startpoints.oci import (  # noqa: E402
    image,
    layer,
    runtime,  # noqa: E402
    write,
)
from startpoints.oci.stores import Stores  # noqa: E402
from startpoints.prepull import puller as pull  # noqa: E402

SCALE = 200
RUNS = 3
JOBS = 8  # the default of serve and pull (--pull-jobs)
CORPUS = ROOT.parent / "shared" / "corpus" / "languages.tsv"


DIGESTS: dict[str, str] = {}  # name → digest, as the catalog records it: ours pulls by it


def make_images(registry: Registry, work: Path, scale: int) -> dict[str, int]:
    """name → compressed size as the catalog records it (config + layer)."""
    rng = random.Random(11)
    sizes: dict[str, int] = {}
    with CORPUS.open() as rows:
        for row in csv.DictReader(rows, delimiter="\t"):
            if not row["compressed_image_bytes"].isdigit():
                continue  # the one whose image the corpus could not size
            tree = work / "trees" / row["name"]
            tree.mkdir(parents=True)
            (tree / "lib.bin").write_bytes(
                rng.randbytes(int(row["compressed_image_bytes"]) // scale)
            )
            built = image.build(
                [layer.from_dir(tree, "opt/lang")], created="2026-01-01T00:00:00Z", annotations={}
            )
            ref = parse(f"{registry.host}/cdl/{row['name'].replace('-', '_')}:ci")
            DIGESTS[str(ref)] = write.write(Stores().for_ref(ref), ref, built).descriptor.digest
            sizes[str(ref)] = sum(blob.descriptor.size for blob in built.blobs)
            shutil.rmtree(tree)
    return sizes


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


def ours(
    backend: runtime.Runtime, sizes: dict[str, int], alphabetical: bool
) -> Callable[..., None]:
    def run(done: Callable[[str], None]) -> None:
        puller = pull.Puller(
            list(sizes),
            backend,
            identity="bench",
            digests=DIGESTS,  # by digest, then tagged (and pinned on containerd), as served
            jobs=JOBS,
            attempts=1,
            sizes=sizes,
            first=sorted(sizes) if alphabetical else (),
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


def _podman(work: Path, registry: Registry) -> tuple[Podman, runtime.Runtime]:
    engine = Podman(work, insecure_registries=(registry.host,)).start()
    return engine, runtime.EngineRuntime(engine.url, None)


RUNTIMES: dict[str, Callable[[Path, Registry], tuple[Any, runtime.Runtime]]] = {
    "containerd CRI": _containerd,
    "podman Engine API": _podman,
}


def main() -> None:
    global JOBS
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else SCALE
    JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else JOBS
    work = Path(tempfile.mkdtemp(prefix="pm", dir="/tmp"))  # short: podman's runroot
    registry = Registry(work / "registry").start()
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        sizes = make_images(registry, work, scale)
        for run in range(RUNS):
            for label in ("smallest first", "alphabetical", "all at once (runtime)"):
                for runtime in RUNTIMES:
                    node, backend = RUNTIMES[runtime](
                        work / f"{runtime[0]}{run}{label[0]}", registry
                    )
                    try:
                        how = (
                            all_at_once(backend, sizes)
                            if label.startswith("all")
                            else ours(backend, sizes, label == "alphabetical")
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
        small = median[f"{runtime}, smallest first"]
        alpha = median[f"{runtime}, alphabetical"]
        print(
            f"  {runtime}: all present, smallest first / all at once = {small[1] / best[1]:.2f}x;"
            f" half present, alphabetical / smallest first = {alpha[0] / small[0]:.2f}x"
        )


if __name__ == "__main__":
    main()
