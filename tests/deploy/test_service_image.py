"""The service image, built from the Dockerfile here and run as a container runtime would run
it: mmdebstrap makes the Debian base (no base image can be pulled on these machines), buildah
runs the Dockerfile, `assemble --base` puts a catalog on it, and bubblewrap runs the catalog
image's own command as `nobody` on a read-only root with a tmpfs /tmp."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from startpoints.core.reference import parse
from startpoints.oci import read
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.cli.test_serve_cli import get
from tests.conftest import EXAMPLES, ROOT, git
from tests.servers import free_port, wait_serving

MISSING = [tool for tool in ("bwrap",) if shutil.which(tool) is None]
NOBODY = "65534"


@pytest.fixture(scope="module")
def catalog_rootfs(
    service_image: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """A catalog assembled on the service image, laid out as a root filesystem; and its config."""
    if MISSING:
        pytest.skip("needs bwrap (Debian package bubblewrap) to run the image")
    work = tmp_path_factory.mktemp("catalog")
    catalog = f"oci:{work / 'catalog'}:cdsp/languages:v1"
    assemble.assemble(
        assemble.Request(
            sources=[str(EXAMPLES / "bash-bats")], tag=parse(catalog), base=parse(service_image)
        ),
        Stores(),
    )
    return lay_out(catalog, work / "rootfs")


def lay_out(image: str, rootfs: Path) -> tuple[Path, dict[str, Any]]:
    """The layers of the image (in an OCI layout) as a root filesystem, and its config. The
    image is ours, so the whole tree is laid out, devices aside: the sandbox brings its own
    /dev. (startpoints' own unpacker refuses a root filesystem by design.)"""
    ref, stores = parse(image), Stores()
    store = stores.for_ref(ref)
    manifest, _ = read.image_manifest(store, ref, stores.limits)
    config = read.image_config(store, ref, manifest, stores.limits)
    rootfs.mkdir()
    for descriptor in read.layer_descriptors(manifest, ref):
        with tarfile.open(fileobj=io.BytesIO(store.fetch_blob(ref, descriptor))) as layer:
            layer.extractall(
                rootfs,
                members=[
                    m for m in layer if not (m.isdev() or m.name.startswith(("dev/", "./dev/")))
                ],
                filter="tar",
            )
    os.chmod(rootfs.parent, 0o755)
    return rootfs, config


def sandbox(
    rootfs: Path, config: dict[str, Any], port: int | None, command: list[str]
) -> list[str]:
    """bubblewrap as the container runtime: the image's root read-only, a tmpfs /tmp, the
    image's environment (PORT overridden when `port` is given) and working folder, as uid/gid
    65534 (nobody)."""
    inner = config["config"]
    env = [*inner.get("Env", []), *([f"PORT={port}"] if port else [])]
    setenv = [arg for pair in env for arg in ("--setenv", *pair.split("=", 1))]
    return [
        "bwrap",
        "--ro-bind", str(rootfs), "/",
        "--tmpfs", "/tmp",
        "--dev", "/dev",
        "--proc", "/proc",
        "--unshare-pid",
        "--as-pid-1",  # the image's entrypoint (tini) is PID 1, as in a container
        "--unshare-user",
        "--uid", NOBODY,
        "--gid", NOBODY,
        "--die-with-parent",
        "--clearenv",
        *setenv,
        "--chdir", inner.get("WorkingDir") or "/",
        *command,
    ]  # fmt: skip


def test_the_built_image_serves_its_catalog_as_nobody_on_a_read_only_root(
    catalog_rootfs: tuple[Path, dict[str, Any]],
) -> None:
    rootfs, config = catalog_rootfs
    inner = config["config"]
    assert inner["User"] == "10001:10001"  # non-root as built; run below as another non-root uid
    assert any(e.startswith("PORT=") for e in inner["Env"])  # set by assemble for this kind
    port = free_port()
    run = inner["Entrypoint"] + inner["Cmd"]
    process = subprocess.Popen(
        sandbox(rootfs, config, port, run), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    healthcheck = inner["Healthcheck"]["Test"]
    assert healthcheck[0] == "CMD"
    try:
        wait_serving(process, port, "the catalog image's own command")
        assert get(port, "/names") == (200, {"names": ["Bash, bats"]})
        built_from = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        assert get(port, "/sha") == (200, {"sha": built_from})  # the commit built, never "unknown"
        status = get(port, "/status")[1]
        assert json.dumps(status)  # served from the image's own catalog
        whoami = subprocess.run(
            sandbox(rootfs, config, port, ["/usr/bin/id", "-u"]), capture_output=True, text=True
        )
        assert whoami.stdout.strip() == NOBODY
        # The image's HEALTHCHECK, run as the runtime would: passes while the service is ready.
        check = subprocess.run(sandbox(rootfs, config, port, healthcheck[1:]), capture_output=True)
        assert check.returncode == 0, check.stderr.decode()
    finally:
        stop(process)
    # ...and fails once it is gone.
    check = subprocess.run(sandbox(rootfs, config, port, healthcheck[1:]), capture_output=True)
    assert check.returncode != 0
    # The runtime's SIGTERM reached PID 1 (tini), which passed it on: the service ended on it.
    assert process.returncode == 143, process.stderr.read().decode() if process.stderr else ""


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the sandbox's PID 1, as a runtime stops a container (bwrap itself does not
    forward signals)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    os.kill(int(children[0]) if children else process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_the_image_create_makes_is_a_start_point_service_on_its_kinds_port(
    service_image: str, tmp_path: Path
) -> None:
    """As commander's compose runs a created image: its default command, as nobody, read-only,
    a tmpfs /tmp, no port given: it serves on its kind's port (custom: 4526)."""
    created = f"oci:{tmp_path / 'created'}:acme/custom-start-points:1"
    repo = tmp_path / "python-pytest"  # a repository: create clones its sources, as cyber-dojo's
    shutil.copytree(EXAMPLES / "python-pytest", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start point")
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "create", created, "--custom",
         str(repo), "--base", service_image],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"Successfully built {created}"  # as given
    rootfs, config = lay_out(created, tmp_path / "rootfs")
    inner = config["config"]
    assert inner["Labels"]["org.cyber-dojo.start-point"] == "custom"
    assert "PORT=4526" in inner["Env"]
    port = 4526
    process = subprocess.Popen(
        sandbox(rootfs, config, None, inner["Entrypoint"] + inner["Cmd"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_serving(process, port, "the created image's own command")
        name = get(port, "/names")[1]["names"][0]
        for route, key in [("/alive", "alive?"), ("/ready", "ready?"), ("/sha", "sha"),
                           ("/names", "names"), ("/manifests", "manifests"),
                           ("/image_names", "image_names")]:  # fmt: skip
            status, body = get(port, route)
            assert status == 200 and key in body, route
        status, body = get(port, "/manifest", json.dumps({"name": name}).encode())
        assert status == 200 and body["manifest"]["display_name"] == name
        assert get(port, "/sha")[1]["sha"]  # the service image's commit, never null
        # commander's `start-point inspect`, through the image's own command
        inspected = subprocess.run(
            sandbox(rootfs, config, None, [*inner["Entrypoint"], "inspect"]),
            capture_output=True,
            text=True,
        )
        assert inspected.returncode == 0, inspected.stderr
        described = json.loads(inspected.stdout)
        assert list(described) == ["Python 3.12, pytest 8.3"]
        assert described["Python 3.12, pytest 8.3"]["url"] == str(repo)
    finally:
        stop(process)
