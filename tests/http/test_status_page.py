"""The status page in headless Chromium (Debian's), driven over the DevTools protocol: the
rendered rows and pull states, no horizontal scroll at 1280 px with a long pull error, and a
screenshot (docs/status-page.png is made by this test with STARTPOINTS_SCREENSHOT=PATH)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from startpoints.core.reference import parse
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.cli.test_prepull_cli import _answers, catalog_with_images
from tests.cli.test_serve_cli import get
from tests.conftest import minimal_start_point, push_language_image
from tests.servers import Podman, Registry, free_port, wait_until

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,800",
]  # fmt: skip
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian package chromium)"
)


class Browser:
    """One page of a headless Chromium, spoken to over its DevTools websocket."""

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.websocket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.websocket.recv(timeout=30))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return dict(message["result"])

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        wait_until(lambda: self.evaluate("document.readyState") == "complete", "the page loaded")


@contextmanager
def chromium(profile: Path) -> Iterator[Browser]:
    process = subprocess.Popen(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        active = profile / "DevToolsActivePort"
        wait_until(
            lambda: active.exists() and len(active.read_text().split()) >= 2,
            "chromium's DevTools port",
        )
        port = active.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            target = next(t for t in json.load(answer) if t["type"] == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as websocket:
            yield Browser(websocket)
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def serving_with_pull(catalog: Path, podman: Podman, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "startpoints", "serve", str(catalog), "--host", "127.0.0.1", "--port", str(port),
         "--pull", "docker", "--pull-endpoint", podman.url, "--pull-on", "start", "--marker", str(tmp_path / "m.json"), "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _answers(port), "serve up")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_page_shows_each_start_point_and_its_pull_state(
    tmp_path: Path, registry: Registry, podman: Podman, unique: str
) -> None:
    catalog, names = catalog_with_images(tmp_path, registry, unique, 3)
    with (
        serving_with_pull(catalog, podman, tmp_path) as port,
        chromium(tmp_path / "profile") as page,
    ):
        wait_until(lambda: (tmp_path / "m.json").exists(), "warm")
        page.open(f"http://127.0.0.1:{port}/")
        summary = page.evaluate("document.getElementById('summary').textContent")
        states = page.evaluate(
            "[...document.querySelectorAll('td.state')].map(td => td.textContent)"
        )
        rows = page.evaluate("document.querySelector('tbody').textContent")
    assert (
        summary
        == "3 start points, 3 language images on this node: 3 present, 0 pulling, 0 failed \u2014 ready"
    )
    assert states == ["present"] * 3
    for i, name in enumerate(names):
        assert f"Lang {i}, Test" in rows and name in rows


def test_a_long_pull_error_wraps_inside_its_cell_at_1280_px(
    tmp_path: Path, registry: Registry, podman: Podman, unique: str
) -> None:
    present = f"{registry.host}/status{unique}/lang:1a2b3c4"
    push_language_image(Stores(), parse(present))
    unreachable = f"127.0.0.1:{free_port()}/cyber-dojo-languages-with-a-long-organisation-name/{'x' * 60}:1a2b3c4"
    sources = []
    for i, image_name in enumerate([present, unreachable]):
        sources.append(str(minimal_start_point(tmp_path / f"sp{i}", f"Lang {i}, Test", image_name)))
    catalog = tmp_path / "catalog"
    assemble.assemble(assemble.Request(sources=sources, output=catalog), Stores())
    with (
        serving_with_pull(catalog, podman, tmp_path) as port,
        chromium(tmp_path / "profile") as page,
    ):

        def failed_once() -> bool:
            return get(port, "/status")[1]["images"].get(unreachable, {}).get("error") is not None

        wait_until(failed_once, "the pull to fail")
        page.open(f"http://127.0.0.1:{port}/")
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        error = page.evaluate("document.querySelector('td.state .error')?.textContent")
        summary = page.evaluate("document.getElementById('summary').textContent")
        shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
    assert widths[0] <= widths[1] == 1280, (
        f"scrolls sideways: {widths[0]} px wide in a {widths[1]} px window"
    )
    assert error and unreachable in error and "connection refused" in error
    assert summary.startswith("2 start points, 2 language images on this node: 1 present, ")
    assert summary.endswith("\u2014 warming")
    assert shot[:4] == b"\x89PNG" and len(shot) > 10_000
    if os.environ.get("STARTPOINTS_SCREENSHOT"):
        Path(os.environ["STARTPOINTS_SCREENSHOT"]).write_bytes(shot)
