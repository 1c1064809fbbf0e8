"""Credentials reach every pull: a registry that asks for them (htpasswd's Basic, and a
token server in GHCR's style, Basic credentials exchanged for a bearer token) serves the
language images; they are given as a mounted docker config.json or as $STARTPOINTS_CREDENTIALS
(a secret in the environment), never printed. Missing or wrong ones are one line per
registry, not one per image."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from startpoints.core.reference import parse
from startpoints.oci.stores import Stores
from tests.conftest import minimal_start_point, push_language_image
from tests.servers import (
    AuthRegistry,
    Containerd,
    Dockerd,
    Registry,
    TokenRegistry,
    free_port,
    wait_until,
)

USER, TOKEN = "hiker", "ghp_s3cr3tT0ken"


@pytest.fixture(params=["token", "basic"])
def private(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """A registry that wants a login: GHCR's way (a token server) or htpasswd's."""
    kind = TokenRegistry if request.param == "token" else AuthRegistry
    server = kind(tmp_path / "private", USER, TOKEN).start()
    yield server
    server.stop()


def config_for(path: Path, host: str, secret: str = TOKEN) -> Path:
    path.write_text(json.dumps(
        {"auths": {host: {"auth": base64.b64encode(f"{USER}:{secret}".encode()).decode()}}}
    ))  # fmt: skip
    return path


def catalog_of(folder: Path, private: Registry, unique: str, count: int = 3) -> Path:
    config = config_for(folder.parent / "pusher.json", private.host)
    folder.mkdir()
    for i in range(count):
        image = f"{private.host}/cdl{unique}/lang_{i}:1111111"
        push_language_image(Stores(docker_config=config), parse(image), content=f"{i} {unique}")
        minimal_start_point(folder / str(i), f"Lang {i}", image)
    return folder


def pull(catalog: Path, dockerd: Dockerd, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "startpoints", "pull", str(catalog), "--pull", "docker",
         "--pull-endpoint", dockerd.url, "--attempts", "1"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "DOCKER_CONFIG": str(catalog.parent / "none"), **env},
    )  # fmt: skip


def test_no_credentials_is_one_line_for_the_registry_not_one_per_image(
    private: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    done = pull(catalog_of(tmp_path / "catalog", private, unique), dockerd, {})
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    host = private.host
    assert errors == [
        f"startpoints: error: {host}: denied (no credentials for {host}); 3 images not pulled"
    ]


def test_wrong_credentials_are_named_as_refused_and_never_shown(
    private: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    catalog = catalog_of(tmp_path / "catalog", private, unique)
    done = pull(catalog, dockerd, {"STARTPOINTS_CREDENTIALS": f"{private.host}={USER}:wrong1"})
    assert done.returncode == 1
    assert (
        f"{private.host}: denied (the credentials for {private.host} were refused)" in done.stderr
    )
    assert "wrong1" not in done.stdout + done.stderr


def test_a_token_in_the_environment_reaches_every_pull_and_is_never_printed(
    private: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    catalog = catalog_of(tmp_path / "catalog", private, unique)
    done = pull(catalog, dockerd, {"STARTPOINTS_CREDENTIALS": f"{private.host}={USER}:{TOKEN}"})
    assert done.returncode == 0, done.stderr
    assert "3 of 3 images present" in done.stderr
    assert TOKEN not in done.stdout + done.stderr


def test_a_mounted_docker_config_reaches_every_pull(
    private: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    catalog = catalog_of(tmp_path / "catalog", private, unique)
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    config_for(mounted / "config.json", private.host)
    done = pull(catalog, dockerd, {"DOCKER_CONFIG": str(mounted)})
    assert done.returncode == 0, done.stderr


def test_a_bad_credentials_entry_is_refused_without_echoing_it(
    private: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    catalog = catalog_of(tmp_path / "catalog", private, unique, count=1)
    done = pull(catalog, dockerd, {"STARTPOINTS_CREDENTIALS": f"{private.host}:{TOKEN}"})
    assert done.returncode != 0
    assert "$STARTPOINTS_CREDENTIALS: entry 1 is not HOST=USER:TOKEN" in done.stderr
    assert TOKEN not in done.stderr


def test_the_server_says_a_denied_registry_once_on_status_metrics_and_the_page(
    private: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    import urllib.request

    catalog = catalog_of(tmp_path / "catalog", private, unique)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "startpoints", "serve", str(catalog), "--host", "127.0.0.1",
         "--port", str(port), "--pull", "docker", "--pull-endpoint", dockerd.url,
         "--pull-on", "start", "--marker", str(tmp_path / "marker.json"), "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DOCKER_CONFIG": str(tmp_path / "none")},
    )  # fmt: skip

    def fetch(path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return str(answer.read().decode())

    def said() -> bool:
        try:
            return "denied" in json.loads(fetch("/status"))
        except OSError:
            return False

    try:
        wait_until(said, "the registry's refusal on /status", deadline=60)
        reason = f"denied (no credentials for {private.host})"
        assert json.loads(fetch("/status"))["denied"] == {private.host: reason}
        assert f'startpoints_registry_denied{{registry="{private.host}"}} 1.0' in fetch("/metrics")
        assert f"; {private.host}: {reason}" in fetch("/")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_credentials_from_the_environment_reach_the_cri(
    private: Registry, containerd: Containerd, unique: str, tmp_path: Path
) -> None:
    from tests.prepull.test_puller import trust

    trust(containerd, private.host)
    catalog = catalog_of(tmp_path / "catalog", private, unique, count=2)
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "pull", str(catalog), "--pull", "cri",
         "--pull-endpoint", containerd.url, "--attempts", "1"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "DOCKER_CONFIG": str(tmp_path / "none"),
             "STARTPOINTS_CREDENTIALS": f"{private.host}={USER}:{TOKEN}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
