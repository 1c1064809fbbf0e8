"""`make demo`'s script: examples published into an OCI layout, assembled, ready to serve."""

from __future__ import annotations

import json
import subprocess
import sys

from startpoints.core import served
from tests.conftest import ROOT


def test_demo_publishes_and_assembles_the_examples() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--no-serve"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    catalog = served.load(ROOT / "demo" / "catalog")
    assert catalog.names == ["Bash, bats", "Python, pytest"]
    index = json.loads((ROOT / "demo" / "catalog" / "catalog.json").read_text())
    assert {e["source_kind"] for e in index["start_points"]} == {"image"}
    assert all(e["start_point_digest"].startswith("sha256:") for e in index["start_points"])
