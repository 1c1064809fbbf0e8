"""The service as the Dockerfile and the DaemonSet run it: a non-root user, a read-only root
filesystem and a tmpfs /tmp (bubblewrap stands in for the container runtime)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from startpoints.core.reference import parse
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.cli.test_serve_cli import get
from tests.conftest import EXAMPLES, ROOT
from tests.servers import free_port, wait_serving

BWRAP = shutil.which("bwrap")


@pytest.mark.skipif(BWRAP is None, reason="bubblewrap is not installed (Debian package bubblewrap)")
@pytest.mark.parametrize("as_image", [False, True])
def test_serves_as_non_root_on_a_read_only_root(tmp_path: Path, as_image: bool) -> None:
    mounted = tmp_path / "mounted"
    tag = parse(f"oci:{mounted / 'layout'}:cdsp/languages:v1") if as_image else None
    assemble.assemble(
        assemble.Request(
            sources=[str(EXAMPLES / "bash-bats")], output=mounted / "catalog", tag=tag
        ),
        Stores(),
    )
    os.chmod(tmp_path, 0o755)
    for path in [mounted, *mounted.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    catalog = "oci:/mnt/layout:cdsp/languages:v1" if as_image else "/mnt/catalog"
    port = free_port()
    sandbox = [
        str(BWRAP),
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        str(mounted),
        "/mnt",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    sandbox += [
        "--unshare-pid",
        "--unshare-user",
        "--uid",
        "10001",
        "--gid",
        "10001",
        "--die-with-parent",
    ]
    # A checkout or venv under /tmp would be hidden by the tmpfs: bind it back, read-only.
    for path in sorted({ROOT, Path(sys.prefix), Path(sys.base_prefix)}):
        if path.resolve().is_relative_to("/tmp"):
            sandbox[sandbox.index("--dev") : sandbox.index("--dev")] = [
                "--ro-bind",
                str(path.resolve()),
                str(path.resolve()),
            ]
    command = [
        "env",
        "HOME=/tmp",
        "PYTHONDONTWRITEBYTECODE=1",
        sys.executable,
        "-m",
        "startpoints",
        "serve",
        catalog,
    ]
    command += ["--host", "127.0.0.1", "--port", str(port), "--marker", "/tmp/prepulled.json"]
    process = subprocess.Popen(sandbox + command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_serving(process, port, "serve in the sandbox")
        assert get(port, "/names") == (200, {"names": ["Bash, bats"]})
        assert get(port, "/ready?")[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
