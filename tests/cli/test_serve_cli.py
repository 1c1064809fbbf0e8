"""`startpoints serve` as a real process on loopback: from a catalog folder and a catalog image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from startpoints.core.reference import parse
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.conftest import EXAMPLES
from tests.servers import Registry, free_port, wait_until

SHA = "fedcba9876543210fedcba9876543210fedcba98"


def get(port: int, route: str, body: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data=body, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@contextmanager
def serving(catalog: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "startpoints",
            "serve",
            catalog,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env={**os.environ, "SHA": SHA},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:

        def up() -> bool:
            try:
                return get(port, "/alive?")[0] == 200
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                return False

        wait_until(up, "startpoints serve")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serves_a_catalog_folder_and_the_same_catalog_as_an_image(
    tmp_path: Path, registry: Registry, unique: str
) -> None:
    stores = Stores()
    tag = parse(f"{registry.host}/cdl{unique}/languages-start-points:v1")
    result = assemble.assemble(
        assemble.Request(
            sources=[str(EXAMPLES / "bash-bats"), str(EXAMPLES / "python-pytest")],
            output=tmp_path / "catalog",
            tag=tag,
        ),
        stores,
    )
    answers = []
    for catalog in (str(tmp_path / "catalog"), str(result.image)):
        with serving(catalog) as port:
            answers.append(
                {
                    route: get(port, route, body)
                    for route, body in [
                        ("/names", None),
                        ("/manifests", None),
                        ("/image_names", None),
                        ("/start_points", None),
                        ("/sha", None),
                        ("/ready?", None),
                        ("/manifest", b'{"name": "Bash, bats"}'),
                    ]
                }
            )
    from_folder, from_image = answers
    assert from_folder == from_image
    assert from_folder["/names"] == (200, {"names": ["Bash, bats", "Python, pytest"]})
    assert from_folder["/sha"] == (200, {"sha": SHA})
    assert from_folder["/ready?"] == (200, {"ready?": True})
    assert from_folder["/manifest"][1]["manifest"]["visible_files"]["hiker.sh"][
        "content"
    ].startswith("answer()")
    assert [s["source"] for s in from_folder["/start_points"][1]["start_points"]] == [
        str(EXAMPLES / "bash-bats"),
        str(EXAMPLES / "python-pytest"),
    ]


def test_kind_sets_the_default_port(tmp_path: Path) -> None:
    from startpoints.workflows.serve import PORTS

    assert PORTS == {"languages": 4524, "exercises": 4525, "custom": 4526}


def test_sha_falls_back_to_the_installed_commit(monkeypatch: object) -> None:
    import subprocess as sp

    from startpoints.cli.serve import _installed_commit
    from tests.conftest import ROOT

    head = sp.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert _installed_commit() == (head or None)
