"""The committed CRI and containerd stubs are what grpcio-tools makes of proto/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT


def test_committed_stubs_are_current(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    (copy / "src" / "startpoints" / "oci" / "cri_api").mkdir(parents=True)
    shutil.copytree(ROOT / "proto", copy / "proto")
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    subprocess.run(
        ["bash", str(copy / "scripts" / "gen-cri.sh")],
        check=True,
        capture_output=True,
        env={"PATH": f"{Path(__import__('sys').executable).parent}:/usr/bin:/bin"},
    )
    generated = copy / "src" / "startpoints" / "oci" / "cri_api"
    for name in [
        f"{proto}{suffix}"
        for proto in ("cri_image_service", "containerd_images")
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
    ]:
        assert (generated / name).read_text() == (
            ROOT / "src" / "startpoints" / "oci" / "cri_api" / name
        ).read_text(), name
