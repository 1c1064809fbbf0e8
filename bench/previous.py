"""Benchmark: what carrying the previous catalog costs (`assemble --previous`), as the catalog
workflow runs it: the 83 real language start points (shared/corpus, files stubbed at their
sizes), the previous catalog an image in a loopback registry, the new one assembled from
folders and pushed. Two cases: a typical day (RENAMED of them bumped, so renamed) and every one
renamed (the most a catalog can carry). The reference, measured in the same run and
interleaved: the same assemble without `--previous`. Whole processes, as a user times them.

Also the served cost: `startpoints serve` of each catalog, its resident memory once it
answers (VmRSS; cyber-dojo.org gives the service 128 MiB), and the catalog folder's bytes.
Run: python bench/previous.py [RUNS]
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Registry, free_port, wait_serving  # noqa: E402
from tests.test_corpus import stub  # noqa: E402

STARTPOINTS = [sys.executable, "-m", "startpoints"]
RENAMED = 10


def renamed(source: Path, into: Path, how_many: int) -> list[str]:
    """The start points of `source`, the first `how_many` with a bumped display_name and no
    language/test_framework pair (so the served name is the display_name, as on most days)."""
    shutil.copytree(source, into)
    folders = sorted(p for p in into.iterdir() if p.is_dir())
    for folder in folders[:how_many]:
        for file in folder.rglob("manifest.json"):
            loaded = json.loads(file.read_text())
            for key in ("language", "test_framework"):
                loaded.pop(key, None)
            loaded["display_name"] += " (next)"
            file.write_text(json.dumps(loaded))
    return [str(f) for f in folders]


def timed(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([*STARTPOINTS, *args], check=True, capture_output=True)
    return time.perf_counter() - started


def rss(catalog: Path) -> int:
    """The serving process's resident bytes once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [*STARTPOINTS, "serve", str(catalog), "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_serving(process, port, "startpoints serve")
        status = Path(f"/proc/{process.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        return kib * 1024
    finally:
        process.terminate()
        process.wait(timeout=10)


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory(prefix="bench-previous-") as tmp:
        work = Path(tmp)
        registry = Registry(work / "registry").start()
        try:
            stub("languages", work / "old")
            old = sorted(str(p) for p in (work / "old").iterdir())
            previous = f"{registry.host}/cyber-dojo/languages-start-points:1111111"
            subprocess.run(
                [*STARTPOINTS, "assemble", *old, "--no-verify-images", "--tag", previous],
                check=True, capture_output=True,
            )  # fmt: skip
            print(f"{len(old)} start points; the previous catalog is {previous}")
            print(f"{'case':<22} {'without':>9} {'--previous':>11} {'ratio':>6} {'carried':>8} "
                  f"{'RSS without':>12} {'RSS with':>9} {'bytes without':>14} {'with':>9}")  # fmt: skip
            for how_many in (RENAMED, len(old)):
                sources = renamed(work / "old", work / f"new-{how_many}", how_many)
                times: dict[str, list[float]] = {"without": [], "with": []}
                for run in range(runs):
                    for case in ("without", "with"):
                        tag = f"{registry.host}/cyber-dojo/languages-start-points:{case}{how_many}r{run}"
                        extra = ["--previous", previous] if case == "with" else []
                        times[case].append(
                            timed("assemble", *sources, "--no-verify-images", "--tag", tag, *extra)
                        )
                folders = {}
                for case in ("without", "with"):
                    folders[case] = work / f"out-{case}-{how_many}"
                    extra = ["--previous", previous] if case == "with" else []
                    timed("assemble", *sources, "--no-verify-images", "--output",
                          str(folders[case]), *extra)  # fmt: skip
                index = json.loads((folders["with"] / "catalog.json").read_text())
                carried = len(index["previous"]["start_points"])
                without, with_ = (statistics.median(times[c]) for c in ("without", "with"))
                print(
                    f"{f'{how_many} renamed':<22} {without:>8.2f}s {with_:>10.2f}s "
                    f"{with_ / without:>6.2f} {carried:>8} "
                    f"{rss(folders['without']) / 2**20:>10.1f}Mi {rss(folders['with']) / 2**20:>7.1f}Mi "
                    f"{size(folders['without']) / 2**20:>12.1f}Mi {size(folders['with']) / 2**20:>7.1f}Mi"
                )  # fmt: skip
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
