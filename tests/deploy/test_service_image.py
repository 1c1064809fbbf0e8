"""The service image, built from the Dockerfile here and run as a container runtime would run
it: mmdebstrap makes the Debian base (no base image can be pulled on these machines), buildah
runs the Dockerfile, `assemble --base` puts a catalog on it, and bubblewrap runs the catalog
image's own command as `nobody` on a read-only root with a tmpfs /tmp."""

from __future__ import annotations

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
from tests.conftest import EXAMPLES, ROOT
from tests.servers import free_port, wait_serving

MISSING = [tool for tool in ("buildah", "mmdebstrap", "bwrap") if shutil.which(tool) is None]
NOBODY = "65534"


@pytest.fixture(scope="module")
def catalog_rootfs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """`make image`'s script builds the service image; a catalog is assembled on it; the
    catalog image's layers are laid out as a root filesystem. Returns it and its config."""
    if MISSING:
        pytest.skip(f"needs {', '.join(MISSING)} (Debian packages buildah, mmdebstrap, bubblewrap)")
    work = tmp_path_factory.mktemp("service-image")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "BUILDAH_ROOT": str(work / "buildah"),
        "TAG": "localhost/startpoints:under-test",
    }
    built = subprocess.run(
        [str(ROOT / "scripts/service-image.sh"), f"oci:{work / 'service'}:startpoints:test"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    catalog = parse(f"oci:{work / 'catalog'}:cdsp/languages:v1")
    stores = Stores()
    assemble.assemble(
        assemble.Request(
            sources=[str(EXAMPLES / "bash-bats")],
            tag=catalog,
            base=parse(f"oci:{work / 'service'}:startpoints:test"),
        ),
        stores,
    )
    store = stores.for_ref(catalog)
    manifest, _ = read.image_manifest(store, catalog, stores.limits)
    config = read.image_config(store, catalog, manifest, stores.limits)
    rootfs = work / "rootfs"
    rootfs.mkdir()
    # The image is ours (built above), so the whole tree is laid out, devices aside: the
    # sandbox brings its own /dev. (startpoints' own unpacker refuses a rootfs by design.)
    for descriptor in read.layer_descriptors(manifest, catalog):
        blob = work / "catalog/blobs" / descriptor.digest.replace(":", "/")
        with tarfile.open(blob) as layer:
            layer.extractall(
                rootfs,
                members=[
                    m for m in layer if not (m.isdev() or m.name.startswith(("dev/", "./dev/")))
                ],
                filter="tar",
            )
    os.chmod(work, 0o755)
    return rootfs, config


def sandbox(rootfs: Path, config: dict[str, Any], port: int, command: list[str]) -> list[str]:
    """bubblewrap as the container runtime: the image's root read-only, a tmpfs /tmp, the
    image's environment and working folder, as uid/gid 65534 (nobody)."""
    inner = config["config"]
    env = [*inner.get("Env", []), f"PORT={port}"]
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
