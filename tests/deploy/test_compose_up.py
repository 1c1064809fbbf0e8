"""`deploy/compose.yaml`, really run: Debian's docker-compose (1.29) brings it up on the test
dockerd, on a catalog image assembled on the service image `make image` builds. The puller
goes healthy once the catalog's language images are in dockerd; only the puller holds the
socket; `down` leaves nothing running.

This machine's change to the file, and why: the test dockerd runs with `--bridge=none` (a
bridge would put addresses of a private range on this machine), so each service gets the
host's network (`network_mode: host`) and, since Docker refuses published ports there and
docker-compose 1.29 cannot remove a key by an override, its `ports` are dropped: the
processes listen on the host's loopback themselves (4524, and the puller's 4624). Everything
else is the file as shipped."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from startpoints.core.reference import parse
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.conftest import ROOT, minimal_start_point, push_language_image
from tests.servers import Dockerd, Registry, TokenRegistry, wait_until

TOKEN = "ghp_c0mposeT0ken"


def on_this_machine(compose: Path, into: Path) -> Path:
    """deploy/compose.yaml with the host's network for each service (the module says why)."""
    import yaml

    spec = yaml.safe_load(compose.read_text())
    for service in spec["services"].values():
        service.pop("ports", None)
        service["network_mode"] = "host"
    into.write_text(yaml.safe_dump(spec, sort_keys=False))
    return into


def test_compose_up_warms_dockerd_with_the_socket_in_the_puller_only(
    service_image: str, registry: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    """The language images on a registry that wants a login, GHCR's way (a token server):
    the puller pulls them with the token compose passes it in its environment."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    private = TokenRegistry(tmp_path / "private", "hiker", TOKEN).start()
    login = {
        "auths": {private.host: {"auth": base64.b64encode(f"hiker:{TOKEN}".encode()).decode()}}
    }
    (tmp_path / "login.json").write_text(json.dumps(login))
    with_login = Stores(docker_config=tmp_path / "login.json")
    images = [f"{private.host}/compose{unique}/lang_{i}:1111111" for i in range(3)]
    for i, image in enumerate(images):
        push_language_image(with_login, parse(image), content=f"{i} {unique}")
        minimal_start_point(tmp_path / "sources" / str(i), f"Lang {i}", image)
    catalog = f"{registry.host}/compose{unique}/languages-start-points:1"
    sources = [str(tmp_path / "sources" / str(i)) for i in range(3)]
    assemble.assemble(
        assemble.Request(sources=sources, tag=parse(catalog), base=parse(service_image)),
        with_login,
    )
    assert dockerd.docker("pull", catalog).returncode == 0
    project = f"compose{unique}"
    env = {
        **os.environ,
        "DOCKER_HOST": dockerd.url,
        "CATALOG_IMAGE": catalog,
        "DOCKER_SOCKET": str(dockerd.socket),
        "DOCKER_GID": str(os.stat(dockerd.socket).st_gid),  # the socket's, not a fixed 999
        "STARTPOINTS_CREDENTIALS": f"{private.host}=hiker:{TOKEN}",
    }
    here = on_this_machine(ROOT / "deploy/compose.yaml", tmp_path / "compose.yaml")
    compose = ["docker-compose", "-p", project, "-f", str(here)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*compose, *args], env=env, capture_output=True, text=True, timeout=300
        )

    up = run("up", "-d")
    try:
        assert up.returncode == 0, up.stderr
        containers = json.loads(dockerd.docker("inspect", *ids(dockerd, project)).stdout)
        by_service = {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in containers}
        puller = by_service["languages-start-points-puller"]["Id"]

        def healthy() -> bool:
            state = json.loads(dockerd.docker("inspect", puller).stdout)[0]["State"]
            assert state["Status"] == "running", state
            return bool(state.get("Health", {}).get("Status") == "healthy")

        wait_until(healthy, "the puller healthy: every language image in dockerd", deadline=120)
        listed = dockerd.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout
        assert set(images) <= set(listed.split())
        web = by_service["languages-start-points"]
        assert not [m for m in web["Mounts"] if "docker.sock" in m.get("Source", "")]
        assert [m["Destination"] for m in by_service["languages-start-points-puller"]["Mounts"]
                if m.get("Source") == str(dockerd.socket)] == ["/var/run/docker.sock"]  # fmt: skip
        for container in by_service.values():  # hardened, as the file says, as dockerd ran it
            host = container["HostConfig"]
            assert container["Config"]["User"] == "10001:10001" and host["ReadonlyRootfs"]
            assert host["CapDrop"] == ["ALL"] and host["Init"] is True
            assert host["RestartPolicy"]["Name"] == "on-failure" and "/tmp" in host["Tmpfs"]
        logs = dockerd.docker("logs", puller)
        assert TOKEN not in logs.stdout + logs.stderr

        # down and up again: the marker on the puller's volume makes it ready at once
        assert run("down").returncode == 0 and ids(dockerd, project) == []
        assert run("up", "-d").returncode == 0
        wait_until(lambda: answer("/alive") == 200, "the puller answering again", deadline=60)
        assert answer("/ready") == 200  # its first /ready: the marker names this catalog
    finally:
        down = run("down", "-v")
        private.stop()
    assert down.returncode == 0, down.stderr
    assert ids(dockerd, project) == []


def answer(path: str) -> int:
    """The puller's status for `path` (it listens on the host's loopback, port 4624)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:4624{path}", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def ids(dockerd: Dockerd, project: str) -> list[str]:
    listed = dockerd.docker(
        "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"
    ).stdout
    return listed.split()
