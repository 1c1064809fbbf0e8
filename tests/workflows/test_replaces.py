"""Each catalog records the catalog it replaced (`assemble --replaces`): by digest, in the
image's annotations and labels, in catalog.json and on /start_points; so a rollback target
never depends on a CI artifact that expires. Real registry, real service over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from startpoints.core import reference, served
from startpoints.core.reference import Reference
from startpoints.errors import NotFound, StartpointsError
from startpoints.http import app
from startpoints.oci import read
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.conftest import EXAMPLES
from tests.servers import Registry

REPLACES = "org.cyber-dojo.start-points.replaces"


@pytest.fixture
def production(registry: Registry, stores: Stores, unique: str) -> Reference:
    """The catalog image in production: v1."""
    tag = reference.parse(f"{registry.host}/cyber-dojo{unique}/languages-start-points:1111111")
    request = assemble.Request(sources=[str(EXAMPLES / "python-pytest")], tag=tag)
    built = assemble.assemble(request, stores).image
    assert built is not None
    return built


def startpoints(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    command = [sys.executable, "-m", "startpoints", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_the_new_catalog_records_the_one_it_replaced_by_digest_everywhere(
    production: Reference, stores: Stores, tmp_path: Path
) -> None:
    unpinned = production.with_tag(production.tag or "")  # as the CI names it, by tag
    new = unpinned.with_tag("2222222")
    done = startpoints(
        "assemble", str(EXAMPLES / "bash-bats"), "--replaces", str(unpinned),
        "--tag", str(new), "--output", str(tmp_path / "catalog"), home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pushed = reference.parse(done.stdout.splitlines()[-1])

    recorded = str(production)  # NAME:TAG@sha256:…, whatever the tag names later
    manifest, _ = read.image_manifest(stores.for_ref(pushed), pushed)
    assert manifest["annotations"][REPLACES] == recorded
    config = read.image_config(stores.for_ref(pushed), pushed, manifest)
    assert config["config"]["Labels"][REPLACES] == recorded
    index = json.loads((tmp_path / "catalog" / "catalog.json").read_text())
    assert index["replaces"] == recorded

    catalog = served.load(tmp_path / "catalog")
    client = TestClient(app.build(catalog, sha="0" * 40))
    body = client.get("/start_points").json()
    assert body["replaces"] == recorded
    assert [sp["display_name"] for sp in body["start_points"]] == ["Bash 5.2, bats 1.11"]

    again = startpoints(
        "assemble", "--from", str(pushed), "--tag", str(new.with_tag("3")), home=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert reference.parse(again.stdout.splitlines()[-1]).digest == pushed.digest  # byte for byte


def test_a_catalog_not_replacing_one_says_null(tmp_path: Path, stores: Stores) -> None:
    request = assemble.Request(sources=[str(EXAMPLES / "bash-bats")], output=tmp_path / "c")
    assemble.assemble(request, stores)
    assert "replaces" not in json.loads((tmp_path / "c" / "catalog.json").read_text())
    client = TestClient(app.build(served.load(tmp_path / "c"), sha="0" * 40))
    assert client.get("/start_points").json()["replaces"] is None


def test_replacing_what_is_not_a_catalog_of_the_kind_is_refused_before_anything_is_pushed(
    production: Reference, registry: Registry, stores: Stores, unique: str, tmp_path: Path
) -> None:
    target = reference.parse(f"{registry.host}/cyber-dojo{unique}/exercises:3333333")
    request = assemble.Request(
        sources=[str(EXAMPLES / "bash-bats")], kind="exercises", replaces=production, tag=target
    )
    with pytest.raises(StartpointsError, match="not a catalog image of kind exercises"):
        assemble.assemble(request, stores)
    missing = production.with_tag("0000000")
    with pytest.raises(NotFound):
        assemble.assemble(
            assemble.Request(sources=[str(EXAMPLES / "bash-bats")], replaces=missing), stores
        )
    assert registry.tags(target.repository) == []
