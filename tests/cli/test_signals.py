"""`serve --pull` and `pull` end within 2 s of SIGTERM or SIGINT, as a pod's grace period
needs, also while pulls fail and back off, and while a pull hangs in the runtime."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.cli.test_serve_cli import get
from tests.conftest import minimal_start_point
from tests.servers import Podman, free_port, wait_until

GRACE = 2.0


def catalog_naming(tmp_path: Path, image_name: str) -> Path:
    sp = minimal_start_point(tmp_path / "sp", "Gone, Test", image_name)
    assemble.assemble(assemble.Request(sources=[str(sp)], output=tmp_path / "catalog"), Stores())
    return tmp_path / "catalog"


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A registry host that accepts connections and never answers: a pull through it hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def ended_within(process: subprocess.Popen[str], sig: int) -> float:
    started = time.monotonic()
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("failure", ["backing off", "hanging"])
def test_serve_ends_promptly_while_pulls_fail_or_hang(
    tmp_path: Path, podman: Podman, black_hole: str, sig: int, failure: str
) -> None:
    host = f"127.0.0.1:{free_port()}" if failure == "backing off" else black_hole
    catalog = catalog_naming(tmp_path, f"{host}/gone/lang:1a2b3c4")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "startpoints", "serve", str(catalog),
            "--host", "127.0.0.1", "--port", str(port),
            "--pull", "docker", "--pull-endpoint", podman.url, "--pull-on", "start",
            "--marker", str(tmp_path / "marker.json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    expected = "failed" if failure == "backing off" else "pulling"

    def reached() -> bool:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            status = get(port, "/status")[1]
        except OSError:
            return False
        return any(s["state"] == expected for s in status["images"].values())

    wait_until(reached, f"the pull {failure}")
    took = ended_within(process, sig)
    assert took < GRACE, f"{took:.1f} s after {signal.Signals(sig).name}"
    assert process.returncode == 128 + sig


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_one_shot_pull_ends_promptly_while_backing_off(
    tmp_path: Path, podman: Podman, sig: int
) -> None:
    catalog = catalog_naming(tmp_path, f"127.0.0.1:{free_port()}/gone/lang:1a2b3c4")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "startpoints", "pull", str(catalog),
            "--pull-endpoint", podman.url, "--attempts", "10",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:  # the retry is announced: then it is backing off
        if "retrying in" in line:
            break
    else:
        pytest.fail(f"no retry announced; exit {process.wait()}")
    took = ended_within(process, sig)
    assert took < GRACE, f"{took:.1f} s after {signal.Signals(sig).name}"
    assert process.returncode == 128 + sig
