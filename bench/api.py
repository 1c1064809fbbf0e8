"""Benchmark: the API under wrk on loopback, in the same run as (a) cyber-dojo's own
start-points server (Ruby, puma, ../shared/cyberdojo/real-server.sh) on the same catalog
folder, the server ours replaces, and (b) nginx serving the very same response bytes from
files, the ceiling. Requests as cyber-dojo's clients send them: GET, `/manifest` with a JSON
body. Ours twice: access log off, and on (to a file, as a container runtime collects it).
Catalog: the 82 real corpus language manifests (files stubbed at their sizes). One process each
(nginx worker_processes 1, one uvicorn process, puma as real-server.sh starts it), 1 wrk
thread; 1 and 32 connections; median of 3 runs of 3 s. Run: make bench
(BENCH_BEFORE=SRC adds a column for the startpoints in SRC, another checkout's src/, access
log off: a change's figures before and after, from one run).
"""

from __future__ import annotations

import json
import os
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


def wrk(url: str, connections: int, script: Path | None = None) -> tuple[float, float]:
    lua = ["-s", str(script)] if script else []
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{SECONDS}s", "--latency", *lua, url],
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


CYBERDOJO = ROOT.parent / "shared" / "cyberdojo"


def start(
    command: list[str], log: Path | None = None, pythonpath: str | None = None
) -> subprocess.Popen[bytes]:
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - the child's
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else None
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=out, env=env)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    stub("languages", work / "stubbed")
    sources = [str(p) for p in sorted((work / "stubbed").iterdir()) if p.name != "haskell-hunit"]
    assemble.assemble(assemble.Request(sources=sources, output=work / "catalog"), Stores())
    before = os.environ.get("BENCH_BEFORE")
    named = ("ours", "ours, access log on", *(["BENCH_BEFORE"] if before else []))
    ports = {name: free_port() for name in (*named, "cyber-dojo", "nginx")}
    serve = [
        sys.executable,
        "-m",
        "startpoints",
        "serve",
        str(work / "catalog"),
        "--host",
        "127.0.0.1",
    ]
    servers = [
        start([*serve, "--port", str(ports["ours"]), "--no-access-log"]),
        start([*serve, "--port", str(ports["ours, access log on"])], log=work / "access.log"),
    ]
    if before:
        then = [*serve, "--port", str(ports["BENCH_BEFORE"]), "--no-access-log"]
        servers.append(start(then, pythonpath=before))
    real = shutil.which("puma") and (CYBERDOJO / "real-server.sh").exists()
    if real:
        servers.append(
            start(
                [
                    "bash",
                    str(CYBERDOJO / "real-server.sh"),
                    str(work / "catalog"),
                    str(ports["cyber-dojo"]),
                ]
            )
        )
    else:
        del ports["cyber-dojo"]
        print(
            "cyber-dojo's server not run: needs ruby, puma, ruby-rack and ../shared/cyberdojo",
            file=sys.stderr,
        )
    try:
        for name, port in ports.items():
            if name != "nginx":
                wait_until(
                    lambda port=port: _up(f"http://127.0.0.1:{port}/alive"), name, deadline=60
                )  # type: ignore[misc]
        base = f"http://127.0.0.1:{ports['ours']}"
        names = json.loads(get(f"{base}/names"))["names"]
        name = names[len(names) // 2]
        script = work / "manifest.lua"
        script.write_text(
            'wrk.method = "GET"\n'
            f"wrk.body = {json.dumps(json.dumps({'name': name}))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        routes: dict[str, Path | None] = {"/names": None, "/manifests": None, "/manifest": script}
        for route in routes:
            path = f"/manifest?name={urllib.parse.quote(name)}" if route == "/manifest" else route
            (work / f"{route.strip('/')}.json").write_bytes(get(f"{base}{path}"))
        (work / "nginx.conf").write_text(NGINX.format(work=work, port=ports["nginx"]))
        work.chmod(0o755)  # nginx workers run as another user when started by root
        servers.append(start(["nginx", "-c", str(work / "nginx.conf")]))
        wait_until(lambda: _up(f"http://127.0.0.1:{ports['nginx']}/names"), "nginx")
        print(
            f"API on loopback, catalog of {len(names)} corpus manifests; wrk -t1 -d{SECONDS}s, "
            f"median of {RUNS}; one process each; GET, /manifest with a JSON body"
        )
        print(
            f"{'route':11} {'conns':>5} "
            + " ".join(f"{n:>20}" for n in ports)
            + "  ours/cyber-dojo (log off, on)"
        )
        for route, lua in routes.items():
            for connections in (1, 32):
                medians = {}
                for server, port in ports.items():
                    runs = [
                        wrk(f"http://127.0.0.1:{port}{route}", connections, lua)
                        for _ in range(RUNS)
                    ]
                    medians[server] = (
                        statistics.median(r[0] for r in runs),
                        statistics.median(r[1] for r in runs),
                    )
                cells = " ".join(f"{rps:8.0f} r/s {p99:5.2f}ms" for rps, p99 in medians.values())
                ratio = (
                    " ".join(
                        f"{medians[ours][0] / medians['cyber-dojo'][0]:6.1f}x"
                        for ours in ("ours", "ours, access log on")
                    )
                    if "cyber-dojo" in medians
                    else ""
                )
                print(f"{route:11} {connections:5} {cells}  {ratio}")
    finally:
        for process in servers:
            process.terminate()
        shutil.rmtree(work, ignore_errors=True)


def _up(url: str) -> bool:
    try:
        get(url)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
