"""Benchmark: what a hostile layer costs, startpoints' unpacking beside the reference measured
in the same run: Python's own `tarfile` extraction with the `data` filter (PEP 706) of the
same bytes. Each run is a fresh process; peak memory (max RSS), seconds, and bytes written.

Layers: a 1 MiB gzip holding a pax header that declares 1 GiB (a header bomb), and one 8 MB
file with 60 hard links to it (a fan-out). Run: .venv/bin/python bench/hostile.py
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.oci.test_unpack import raw_header  # noqa: E402

MEASURE = """
import json, os, pathlib, resource, sys, tarfile, time, io
layer, root, how = pathlib.Path(sys.argv[1]).read_bytes(), pathlib.Path(sys.argv[2]), sys.argv[3]
started = time.perf_counter()
outcome = "applied"
try:
    if how == "startpoints":
        from startpoints.oci import unpack
        unpack.apply(layer, root, where="bench", budget=unpack.Budget())
    else:
        with tarfile.open(fileobj=io.BytesIO(layer), mode="r|*") as tar:
            tar.extractall(root, filter="data")
except Exception as error:
    outcome = "refused: " + str(error)[:70]
written = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "written_mb": written // 2**20, "outcome": outcome}))
"""


def header_bomb(path: Path) -> None:
    with gzip.open(path, "wb") as out:
        out.write(raw_header(b"././@PaxHeader", tarfile.XHDTYPE, 1 << 30))
        zeros = b"\0" * (1 << 20)
        for _ in range(1026):
            out.write(zeros)


def fan_out(path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        big = tarfile.TarInfo("sp/big")
        big.size = 8 * 1024 * 1024
        tar.addfile(big, io.BytesIO(b"\0" * big.size))
        for i in range(60):
            link = tarfile.TarInfo(f"sp/link{i}")
            link.type, link.linkname = tarfile.LNKTYPE, "sp/big"
            tar.addfile(link)
    path.write_bytes(gzip.compress(buffer.getvalue()))


def measure(layer: Path, how: str, work: Path) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(dir=work))
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(layer), str(root), how],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, make in (("header bomb", header_bomb), ("hard-link fan-out", fan_out)):
            layer = work / f"{name.replace(' ', '-')}.gz"
            make(layer)
            print(f"{name}: layer of {layer.stat().st_size // 1024} KiB")
            ours = measure(layer, "startpoints", work)
            reference = measure(layer, "tarfile", work)
            for label, row in (("startpoints", ours), ("tarfile data filter", reference)):
                print(
                    f"  {label:20} {row['seconds']:6.2f} s  max RSS {row['rss_mb']:5} MB  "
                    f"written {row['written_mb']:4} MB  {row['outcome']}"
                )
            ratio = max(1, int(ours["rss_mb"])) / max(1, int(reference["rss_mb"]))  # type: ignore[call-overload]
            print(f"  peak memory: startpoints / tarfile = {ratio:.3f}")


if __name__ == "__main__":
    main()
