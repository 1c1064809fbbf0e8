"""Benchmark: `startpoints publish` cold then warm against a loopback registry, beside the
reference measured in the same run: oras-py's own `push` of the same start_point/ folder.

Whole processes are timed (python start-up included for both). Blob bytes are counted on
the wire by a pass-through proxy in front of the registry. Run: make bench
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import git, push_language_image  # noqa: E402
from tests.servers import FaultyProxy, Registry  # noqa: E402

from startpoints.core import reference  # noqa: E402
from startpoints.oci.stores import Stores  # noqa: E402

RUNS = 5
ORAS_PUSH = """
import sys, oras.provider
registry = oras.provider.Registry(hostname=sys.argv[1], insecure=True)
registry.push(target=sys.argv[2], files=[sys.argv[3]], disable_path_validation=True)
"""


def timed(command: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - start


def measure(proxy: FaultyProxy, command: list[str], cwd: Path | None = None) -> tuple[float, int]:
    before = proxy.blob_bytes_uploaded
    seconds = timed(command, cwd)
    return seconds, proxy.blob_bytes_uploaded - before


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    registry = Registry(work / "registry").start()
    proxy = FaultyProxy(registry.host, lambda _m, _p: None)
    rows: dict[str, list[tuple[float, int]]] = {}
    try:
        for run in range(RUNS):
            repo = work / f"repo{run}"
            shutil.copytree(ROOT / "examples" / "python-pytest", repo)
            git(repo, "init", "-q")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"run {run}")
            image = reference.parse(f"{proxy.host}/cdl/python_pytest_{run}:ci")
            push_language_image(Stores(), image)
            publish = [
                sys.executable,
                "-m",
                "startpoints",
                "publish",
                str(repo),
                "--image",
                str(image),
            ]
            rows.setdefault("startpoints publish, cold", []).append(measure(proxy, publish))
            rows.setdefault("startpoints publish, warm", []).append(measure(proxy, publish))
            oras = [
                sys.executable,
                "-c",
                ORAS_PUSH,
                proxy.host,
                f"{proxy.host}/orasref/python_pytest_{run}:x",
                "start_point",
            ]
            rows.setdefault("oras-py push, cold (reference)", []).append(
                measure(proxy, oras, cwd=repo)
            )
            rows.setdefault("oras-py push, warm (reference)", []).append(
                measure(proxy, oras, cwd=repo)
            )
    finally:
        proxy.close()
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)

    median = {
        name: (statistics.median(s for s, _ in r), statistics.median(b for _, b in r))
        for name, r in rows.items()
    }
    print(
        f"publish one start point to a loopback docker-registry, median of {RUNS} runs, whole processes"
    )
    print(f"{'':36} {'wall s':>8} {'blob bytes up':>14}")
    for name, (seconds, uploaded) in median.items():
        print(f"{name:36} {seconds:8.3f} {uploaded:14.0f}")
    for phase in ("cold", "warm"):
        ours = median[f"startpoints publish, {phase}"][0]
        ref = median[f"oras-py push, {phase} (reference)"][0]
        print(f"ratio {phase}: startpoints / oras-py = {ours / ref:.2f}")


if __name__ == "__main__":
    main()
