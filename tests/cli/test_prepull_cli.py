"""`serve --pull` and `pull` as real processes: a probe storm over HTTP while warming a node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from startpoints.core.reference import parse
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.cli.test_serve_cli import get
from tests.conftest import minimal_start_point, push_language_image
from tests.servers import Dockerd, Registry, free_port, wait_until


def catalog_with_images(
    tmp_path: Path, registry: Registry, unique: str, count: int
) -> tuple[Path, list[str]]:
    """A catalog folder whose start points name `count` language images pushed to `registry`."""
    names = []
    sources = []
    for i in range(count):
        name = f"{registry.host}/warm{unique}/lang_{i}:ci"
        push_language_image(Stores(), parse(name), content=f"{unique} {i}")
        names.append(name)
        sources.append(str(minimal_start_point(tmp_path / f"sp{i}", f"Lang {i}, Test", name)))
    assemble.assemble(assemble.Request(sources=sources, output=tmp_path / "catalog"), Stores())
    return tmp_path / "catalog", names


def test_a_storm_of_ready_probes_while_pulling_fetches_each_blob_once(
    tmp_path: Path, registry: Registry, dockerd: Dockerd, unique: str
) -> None:
    catalog, names = catalog_with_images(tmp_path, registry, unique, 6)
    port = free_port()
    marker = tmp_path / "prepulled.json"
    command = [
        sys.executable,
        "-m",
        "startpoints",
        "serve",
        str(catalog),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    command += [
        "--pull",
        "docker",
        "--pull-endpoint",
        dockerd.url,
        "--marker",
        str(marker),
        "--no-access-log",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _answers(port), "serve up")
        with ThreadPoolExecutor(60) as pool:
            codes = list(pool.map(lambda _: get(port, "/ready?")[0], range(120)))
        assert set(codes) <= {200, 503}
        wait_until(lambda: get(port, "/ready?")[0] == 200, "warm", deadline=60)
        assert get(port, "/alive?") == (200, {"alive?": True})
        status = get(port, "/status")[1]
        assert status["ready"] and {s["state"] for s in status["images"].values()} == {"present"}
    finally:
        process.terminate()
        process.wait(timeout=10)
    repos = {name.split("/", 1)[1].rsplit(":", 1)[0] for name in names}
    fetched = blob_gets(registry, repos)
    assert len(fetched) == 2 * len(names)  # each image's config and layer, exactly once
    assert sorted(json.loads(marker.read_text())["images"]) == sorted(names)

    # a restart with the marker: ready after a presence check, no blob fetched
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _answers(port), "serve up again")
        wait_until(lambda: get(port, "/ready?")[0] == 200, "ready again")
    finally:
        process.terminate()
        process.wait(timeout=10)
    again = blob_gets(registry, repos)
    assert len(again) == len(fetched)


def test_pull_command_exits_0_when_all_present_and_lists_failures(
    tmp_path: Path, registry: Registry, dockerd: Dockerd, unique: str
) -> None:
    catalog, names = catalog_with_images(tmp_path, registry, unique, 2)
    env = {**os.environ, "DOCKER_HOST": dockerd.url}
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "pull", str(catalog)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "2 of 2 images present" in done.stderr

    broken = minimal_start_point(
        tmp_path / "broken", "Gone, Test", f"{registry.host}/gone{unique}/x:ci"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "startpoints",
            "pull",
            str(broken),
            "--pull-endpoint",
            dockerd.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"gone{unique}/x:ci" in done.stderr and "0 of 1 image present" in done.stderr
    # not found is an answer, not a failure to get one: the one-shot pull does not retry it
    assert "retrying" not in done.stderr and "manifest unknown" in done.stderr, done.stderr


def blob_gets(registry: Registry, repos: set[str]) -> list[str]:
    """Blob downloads from these repositories, from the registry's access log."""
    lines = registry.log_text().splitlines()
    return [
        line
        for line in lines
        if '"GET /v2/' in line
        and "/blobs/sha256:" in line
        and any(f"/v2/{r}/" in line for r in repos)
    ]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/alive", timeout=1):
            return True
    except OSError:
        return False
