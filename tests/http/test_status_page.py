"""The status page in headless Chromium (Debian's): rendered rows, pull states, a screenshot."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_prepull_cli import _answers, catalog_with_images
from tests.servers import Podman, Registry, free_port, wait_until

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=5000", "--window-size=1280,420",
]  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package chromium)")
def test_the_page_shows_each_start_point_and_its_pull_state(
    tmp_path: Path, registry: Registry, podman: Podman, unique: str
) -> None:
    catalog, names = catalog_with_images(tmp_path, registry, unique, 3)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "startpoints", "serve", str(catalog), "--host", "127.0.0.1", "--port", str(port),
         "--pull", "docker", "--pull-endpoint", podman.url, "--pull-on", "start", "--marker", str(tmp_path / "m.json"), "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _answers(port), "serve up")
        wait_until(lambda: (tmp_path / "m.json").exists(), "warm")
        url = f"http://127.0.0.1:{port}/"
        profile = ["--user-data-dir=" + str(tmp_path / "profile")]
        dom = subprocess.run(
            [str(CHROMIUM), *FLAGS, *profile, "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        shot = tmp_path / "status.png"
        subprocess.run(
            [str(CHROMIUM), *FLAGS, *profile, f"--screenshot={shot}", url],
            capture_output=True,
            timeout=60,
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "3 start points, 3 language images, 3 present on this node" in dom
    for i, name in enumerate(names):
        assert f"Lang {i}, Test" in dom and name in dom
    assert dom.count('class="state present"') == 3
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"
