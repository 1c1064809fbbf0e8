"""Benchmark: the API under wrk on loopback, against nginx serving the very same response
bytes from files, in the same run. Catalog: the 82 real corpus language manifests (files
stubbed at their sizes). One process each (nginx worker_processes 1, one uvicorn process),
1 wrk thread; 1 and 32 connections; median of 3 runs of 3 s. Run: make bench
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, wait_until  # noqa: E402
from tests.test_corpus import stub  # noqa: E402

from startpoints.oci.stores import Stores  # noqa: E402
from startpoints.workflows import assemble  # noqa: E402

RUNS, SECONDS = 3, 3
NGINX = """worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; default_type application/json;
  server {{ listen 127.0.0.1:{port};
    location = /names {{ alias {work}/names.json; }}
    location = /manifests {{ alias {work}/manifests.json; }}
    location = /manifest {{ alias {work}/manifest.json; }} }} }}
"""


def wrk(url: str, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{SECONDS}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(
        next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec"))
    )
    p99 = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("99%"))
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", p99).groups()  # type: ignore[union-attr]
    return rps, float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    stub("languages", work / "stubbed")
    sources = [str(p) for p in sorted((work / "stubbed").iterdir()) if p.name != "haskell-hunit"]
    assemble.assemble(assemble.Request(sources=sources, output=work / "catalog"), Stores())
    ours, theirs = free_port(), free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "startpoints",
            "serve",
            str(work / "catalog"),
            "--host",
            "127.0.0.1",
            "--port",
            str(ours),
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nginx = None
    try:
        wait_until(lambda: _up(f"http://127.0.0.1:{ours}/alive"), "startpoints serve")
        names = json.loads(get(f"http://127.0.0.1:{ours}/names"))["names"]
        name = urllib.parse.quote(names[len(names) // 2])
        routes = {
            "/names": "/names",
            "/manifests": "/manifests",
            "/manifest": f"/manifest?name={name}",
        }
        for route, path in routes.items():
            (work / f"{route.strip('/')}.json").write_bytes(get(f"http://127.0.0.1:{ours}{path}"))
        (work / "nginx.conf").write_text(NGINX.format(work=work, port=theirs))
        work.chmod(0o755)  # nginx workers run as another user when started by root
        nginx = subprocess.Popen(
            ["nginx", "-c", str(work / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _up(f"http://127.0.0.1:{theirs}/names"), "nginx")
        for route, path in routes.items():
            assert get(f"http://127.0.0.1:{ours}{path}") == get(
                f"http://127.0.0.1:{theirs}{path}"
            ), route
        print(
            f"API on loopback, catalog of {len(names)} corpus manifests; wrk -t1 -d{SECONDS}s, median of {RUNS}; one process each"
        )
        print(
            f"{'route':12} {'conns':>5} {'startpoints req/s':>18} {'nginx req/s':>12} {'ratio':>6} {'p99 ours':>9} {'p99 nginx':>9}"
        )
        for route, path in routes.items():
            for connections in (1, 32):
                samples = [
                    (
                        wrk(f"http://127.0.0.1:{ours}{path}", connections),
                        wrk(f"http://127.0.0.1:{theirs}{path}", connections),
                    )
                    for _ in range(RUNS)
                ]
                rps_ours = statistics.median(s[0][0] for s in samples)
                rps_theirs = statistics.median(s[1][0] for s in samples)
                p99_ours = statistics.median(s[0][1] for s in samples)
                p99_theirs = statistics.median(s[1][1] for s in samples)
                print(
                    f"{route:12} {connections:5} {rps_ours:18.0f} {rps_theirs:12.0f} {rps_ours / rps_theirs:6.2f} {p99_ours:7.2f}ms {p99_theirs:7.2f}ms"
                )
    finally:
        serve.terminate()
        if nginx:
            nginx.terminate()
        shutil.rmtree(work, ignore_errors=True)


def _up(url: str) -> bool:
    try:
        get(url)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
