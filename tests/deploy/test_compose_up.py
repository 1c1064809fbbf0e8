"""`deploy/compose.yaml`, the puller beside commander's `cyber-dojo up`, really run: Debian's
docker-compose (1.29) brings it up on the test dockerd, on a catalog image assembled on the
service image `make image` builds, while that catalog image runs as commander runs its
languages-start-points service. The puller goes healthy once the catalog's language images
are in dockerd, and is `starting` (never `unhealthy`) until then, a day at most; only the
puller holds the socket; `down` leaves nothing running.

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
from typing import Any

import pytest

from startpoints.core.reference import parse
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.conftest import CYBERDOJO, ROOT, minimal_start_point, push_language_image
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
        assert list(by_service) == ["languages-start-points-puller"]  # commander runs the API
        puller = by_service["languages-start-points-puller"]["Id"]
        check = by_service["languages-start-points-puller"]["Config"]["Healthcheck"]
        assert check["StartPeriod"] >= 12 * 3600 * 10**9  # a cold pull is `starting`, not unhealthy

        def healthy() -> bool:
            state = json.loads(dockerd.docker("inspect", puller).stdout)[0]["State"]
            assert state["Status"] == "running", state
            assert state.get("Health", {}).get("Status") != "unhealthy", state
            return bool(state.get("Health", {}).get("Status") == "healthy")

        wait_until(healthy, "the puller healthy: every language image in dockerd", deadline=120)
        listed = dockerd.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout
        assert set(images) <= set(listed.split())
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


COMMANDER = CYBERDOJO / "commander" / "docker-compose"


def commanders_service(service: str, image: str, env_file: Path) -> dict[str, object]:
    """`service` as `cyber-dojo up` layers commander's compose files for it (user, read_only,
    tmpfs, restart, env_file, image, container_name), with the host's network (the module
    says why) in place of commander's bridge network."""
    import yaml

    merged: dict[str, object] = {}
    for name in ("images", "user", "read_only", "tmp-fs", "restart", "env-files", "container-name"):
        spec = yaml.safe_load((COMMANDER / f"{name}.yml").read_text())
        merged.update(spec["services"].get(service, {}))
    merged["image"] = image  # images.yml: ${CYBER_DOJO_LANGUAGES_START_POINTS}, --languages=
    merged["env_file"] = [str(env_file)]
    merged["network_mode"] = "host"
    return merged


def test_cyber_dojo_up_runs_the_catalog_image_as_its_languages_start_points_service(
    service_image: str, registry: Registry, dockerd: Dockerd, unique: str, tmp_path: Path
) -> None:
    """`cyber-dojo up --languages=<catalog image>`: commander's own settings for the service,
    read from its compose files, run by `docker run` on the test dockerd. Then the rollback
    docs/operations.md gives: the running container names the catalog it replaced (a label),
    and that reference, run the same way, serves the previous catalog."""
    if not COMMANDER.is_dir():
        pytest.skip(f"{COMMANDER}: commander's compose files are not beside this repository")
    image = f"{registry.host}/commander{unique}/lang:1111111"
    repository = f"{registry.host}/commander{unique}/languages-start-points"
    catalogs = []
    for version in range(2):  # v1, then v2 replacing it
        minimal_start_point(tmp_path / "sources" / str(version), f"Lang {version}", image)
        request = assemble.Request(
            sources=[str(tmp_path / "sources" / str(version))],
            tag=parse(f"{repository}:{version + 1}"),
            base=parse(service_image),
            replaces=catalogs[-1] if catalogs else None,
        )
        built = assemble.assemble(request, Stores()).image
        assert built is not None
        catalogs.append(built)
    env_file = tmp_path / ".env"  # as commander's .env names the services' ports
    env_file.write_text(
        "CYBER_DOJO_LANGUAGES_START_POINTS_PORT=4524\n"
        "CYBER_DOJO_EXERCISES_START_POINTS_PORT=4525\n"
        "CYBER_DOJO_CUSTOM_START_POINTS_PORT=4526\n"
    )
    service = commanders_service("languages-start-points", "", env_file)
    assert service["user"] == "nobody" and service["read_only"] is True  # commander's, as read
    # Commander's files are Compose v2's (tmpfs `mode`, which docker-compose 1.29 refuses), so
    # they are run as `docker run` flags, one for each setting
    (tmpfs,) = service["volumes"]  # type: ignore[misc]
    name = f"{service['container_name']}_{unique}"
    flags = [
        f"--user={service['user']}",
        "--read-only",
        f"--mount=type=tmpfs,destination={tmpfs['target']},tmpfs-mode={tmpfs['tmpfs']['mode']:o},"
        f"tmpfs-size={tmpfs['tmpfs']['size']}",
        f"--restart={service['restart']}",
        f"--env-file={env_file}",
        f"--name={name}",
        "--network=host",
    ]

    def up(catalog: str) -> dict[str, Any]:
        started = dockerd.docker("run", "--detach", *flags, catalog)
        assert started.returncode == 0, started.stderr

        def healthy() -> bool:  # the image's own HEALTHCHECK, run as nobody
            state = json.loads(dockerd.docker("inspect", name).stdout)[0]["State"]
            assert state["Status"] == "running", (state, dockerd.docker("logs", name))
            return bool(state.get("Health", {}).get("Status") == "healthy")

        wait_until(healthy, "the catalog image healthy as commander runs it", deadline=60)
        inspected: dict[str, Any] = json.loads(dockerd.docker("inspect", name).stdout)[0]
        return inspected

    try:
        container = up(f"{repository}:2")
        status = Path(f"/proc/{container['State']['Pid']}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()
        assert uids[1:3] == ["65534", "65534"]  # nobody, as user.yml says
        host = container["HostConfig"]
        assert host["ReadonlyRootfs"] and host["RestartPolicy"]["Name"] == "on-failure"
        assert [m["Target"] for m in host["Mounts"] if m["Type"] == "tmpfs"] == ["/tmp"]
        assert json.loads(fetch("http://127.0.0.1:4524/names")) == {"names": ["Lang 1"]}
        start_points = json.loads(fetch("http://127.0.0.1:4524/start_points"))
        assert [sp["image_name"] for sp in start_points["start_points"]] == [image]
        assert start_points["replaces"] == str(catalogs[0])

        # the rollback: the replaced catalog, as the container's label names it
        label = '{{index .Config.Labels "org.cyber-dojo.start-points.replaces"}}'
        previous = dockerd.docker("inspect", "--format", label, name).stdout.strip()
        assert previous == str(catalogs[0])  # NAME:TAG@sha256:…, whatever the tag names now
        assert dockerd.docker("rm", "--force", name).returncode == 0
        up(previous)
        assert json.loads(fetch("http://127.0.0.1:4524/names")) == {"names": ["Lang 0"]}
    finally:
        removed = dockerd.docker("rm", "--force", name)
    assert removed.returncode in (0, 1), removed.stderr


def fetch(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())
