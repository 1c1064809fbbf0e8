"""Benchmark: the service's peak memory in a 128 MiB container, as cyber-dojo.org gives its
languages-start-points service: serving cyber-dojo's 82 sized corpus start points under wrk
load while pre-pulling their 82 language images through a real Docker Engine (Debian's
dockerd 20.10, the engine of cyber-dojo's node). The reference, measured in the same run:
the same container, catalog and load for the same time, not pre-pulling (`--pull none`).

Language images: one layer of incompressible bytes each, at its compressed size (corpus
languages.tsv) / SCALE (default 200: 115 MiB in all; the puller's memory does not grow with
image bytes, dockerd holds them). Peak: the container's cgroup (memory.max_usage_in_bytes,
cgroup v1; memory.peak on v2), and whether it was OOM-killed.
Run: python bench/memory.py [SCALE]
"""

from __future__ import annotations

import csv
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Dockerd, Registry, free_port, wait_until  # noqa: E402
from tests.test_corpus import stub  # noqa: E402

from startpoints.core.reference import parse  # noqa: E402
from startpoints.oci import image, layer, write  # noqa: E402
from startpoints.oci.stores import Stores  # noqa: E402
from startpoints.workflows import assemble  # noqa: E402

SCALE = 200
LIMIT = "128m"
CORPUS = ROOT.parent / "shared" / "corpus" / "languages.tsv"
MEDIAN = 175 * 1024 * 1024  # compressed bytes of cyber-dojo's median language image


def service_image(work: Path) -> str:
    built = f"oci:{work / 'service'}:startpoints:bench"
    env = {**os.environ, "PYTHON": sys.executable, "BUILDAH_ROOT": str(work / "buildah")}
    subprocess.run([str(ROOT / "scripts/service-image.sh"), built], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return built


def start_points(registry: Registry, work: Path, scale: int) -> list[str]:
    """The corpus start points, each naming a stand-in image of its image's size / scale in
    the registry (the median size where the corpus has none)."""
    rng = random.Random(7)
    stub("languages", work / "stubbed")
    sources = []
    with CORPUS.open() as rows:
        for row in csv.DictReader(rows, delimiter="\t"):
            folder = work / "stubbed" / row["name"]
            if not folder.is_dir():
                continue
            sized = row["compressed_image_bytes"]
            size = int(sized) if sized.isdigit() else MEDIAN  # the one the corpus could not size
            tree = work / "trees" / row["name"]
            tree.mkdir(parents=True)
            (tree / "lib.bin").write_bytes(rng.randbytes(size // scale))
            built = image.build([layer.from_dir(tree, "opt/lang")], created="2026-01-01T00:00:00Z",
                                annotations={})  # fmt: skip
            ref = parse(f"{registry.host}/cdl/{row['name'].replace('-', '_')}:1111111")
            write.write(Stores().for_ref(ref), ref, built)
            manifest = json.loads((folder / "manifest.json").read_text())
            manifest["image_name"] = str(ref)
            (folder / "manifest.json").write_text(json.dumps(manifest))
            sources.append(str(folder))
    return sources


def peak(container: str) -> int:
    for pattern in (f"/sys/fs/cgroup/memory/**/{container}*/memory.max_usage_in_bytes",
                    f"/sys/fs/cgroup/**/*{container}*/memory.peak"):  # fmt: skip
        found = glob.glob(pattern, recursive=True)
        if found:
            return int(Path(found[0]).read_text())
    raise RuntimeError(f"no memory cgroup for {container}")


def run(dockerd: Dockerd, catalog: str, pull: bool, seconds: float | None) -> dict[str, float]:
    """One container under load: until warm (pull) or for `seconds`; its peak and requests."""
    port = free_port()
    gid = os.stat(dockerd.socket).st_gid
    pulling = ["--pull", "docker", "--pull-endpoint", "unix:///var/run/docker.sock",
               "--pull-on", "start"] if pull else ["--pull", "none"]  # fmt: skip
    started = dockerd.docker(
        "run", "-d", "--network", "host", "--memory", LIMIT, "--memory-swap", LIMIT,
        "--user", f"10001:{gid}", "--read-only", "--tmpfs", "/tmp:size=64m,mode=1777",
        "-v", f"{dockerd.socket}:/var/run/docker.sock", "-e", f"PORT={port}", catalog,
        "serve", "/startpoints/catalog", "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", *pulling,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/alive"), "serving", deadline=60)
        began = time.monotonic()
        load = [subprocess.Popen(["wrk", "-t1", "-c16", "-d600s", f"http://127.0.0.1:{port}{path}"],
                                 stdout=subprocess.PIPE, text=True)
                for path in ("/manifests", "/names")]  # fmt: skip
        if pull:
            wait_until(lambda: answers(f"http://127.0.0.1:{port}/ready"), "warm", deadline=1800)
        else:
            time.sleep(seconds or 10)  # the reference: the same load for as long
        took = time.monotonic() - began
        requests = 0.0
        for process in load:
            process.send_signal(2)  # wrk reports what it did when interrupted
            out, _ = process.communicate(timeout=30)
            requests += sum(float(line.split()[1]) for line in out.splitlines()
                            if line.startswith("Requests/sec"))  # fmt: skip
        state = json.loads(dockerd.docker("inspect", container).stdout)[0]["State"]
        return {"peak": peak(container), "seconds": took, "rps": requests,
                "oom": float(bool(state.get("OOMKilled"))), "running": float(state["Running"])}  # fmt: skip
    finally:
        dockerd.docker("rm", "-f", container)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def main() -> None:
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else SCALE
    work = Path(tempfile.mkdtemp(prefix="bench-memory-", dir="/tmp"))
    registry = Registry(work / "registry").start()
    dockerd = Dockerd(work / "dockerd").start()
    try:
        base = service_image(work)
        sources = start_points(registry, work, scale)
        catalog = f"{registry.host}/bench/languages-start-points:1"
        assemble.assemble(assemble.Request(sources=sources, tag=parse(catalog), base=parse(base)),
                          Stores())  # fmt: skip
        assert dockerd.docker("pull", catalog).returncode == 0
        pulling = run(dockerd, catalog, pull=True, seconds=None)
        reference = run(dockerd, catalog, pull=False, seconds=pulling["seconds"])
        version = dockerd.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    finally:
        dockerd.stop()
        registry.stop()
    mib = 1024 * 1024
    print(f"serve in a {LIMIT} container, {len(sources)} start points, wrk 2x16 connections "
          f"(/manifests, /names); dockerd {version}; images / {scale}")  # fmt: skip
    count = f"pre-pulling {len(sources)} images"
    for label, r in ((count, pulling), ("not pulling (reference)", reference)):
        print(f"  {label:26} peak {r['peak'] / mib:6.1f} MiB  {r['seconds']:6.1f} s  "
              f"{r['rps']:8.0f} requests/s  oom-killed {bool(r['oom'])}  running {bool(r['running'])}")  # fmt: skip
    print(f"  peak, pre-pulling / not pulling = {pulling['peak'] / reference['peak']:.2f}x")


if __name__ == "__main__":
    main()
