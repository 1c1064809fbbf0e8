"""Serving a hostile catalog image or folder: refused whole, naming each problem, and nothing
outside the unpack root (in $TMPDIR too) read or removed."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from startpoints.core import served
from startpoints.core.reference import parse
from startpoints.errors import InvalidStartPoint, StartpointsError, UnsafeContent
from startpoints.oci import image, write
from startpoints.oci.layer import Layer
from startpoints.oci.stores import Stores
from startpoints.workflows import serve
from startpoints.workflows.catalog_image import CATALOG_PATH
from tests.conftest import EXAMPLES
from tests.oci.test_unpack import tar


def layer_of(*entries: tarfile.TarInfo | tuple[str, bytes]) -> Layer:
    data = tar(*entries, compress=False)
    return Layer(gzip.compress(data), "sha256:" + hashlib.sha256(data).hexdigest())


def link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def good_catalog_entries(visible: list[str] | None = None) -> list[tuple[str, bytes]]:
    sp = EXAMPLES / "bash-bats" / "start_point"
    manifest = json.loads((sp / "manifest.json").read_text())
    if visible is not None:
        manifest["visible_filenames"] = visible
    files = [(f"{CATALOG_PATH}/0/start_point/{p.name}", p.read_bytes()) for p in sp.iterdir()]
    index = {"kind": "languages", "start_points": [{"manifest": "0/start_point/manifest.json"}]}
    return [
        *files,
        (f"{CATALOG_PATH}/0/start_point/manifest.json", json.dumps(manifest).encode()),
        (f"{CATALOG_PATH}/catalog.json", json.dumps(index).encode()),
    ]


def catalog_image(tmp_path: Path, *layers: Layer) -> str:
    ref = parse(f"oci:{tmp_path / 'layout'}:hostile/catalog:1")
    built = image.build(list(layers), created="2026-01-01T00:00:00Z", annotations={})
    write.write(Stores().for_ref(ref), ref, built)
    return str(ref)


@pytest.fixture
def tmpdir_with_canaries(tmp_path: Path) -> tuple[Path, list[Path]]:
    workdir = tmp_path / "tmpdir"
    workdir.mkdir()
    canaries = [workdir / "canary.txt", workdir / "other-service.sock.txt"]
    for c in canaries:
        c.write_text("still here")
    return workdir, canaries


def test_a_good_catalog_image_is_served(tmp_path: Path, tmpdir_with_canaries) -> None:
    workdir, _ = tmpdir_with_canaries
    ref = catalog_image(tmp_path, layer_of(*good_catalog_entries()))
    assert serve.open_catalog(ref, Stores(), workdir).names == ["Bash, bats"]


@pytest.mark.parametrize("whiteout", [".wh...", f"{CATALOG_PATH}/.wh...", ".wh."])
def test_a_whiteout_of_dotdot_deletes_nothing_beside_the_root(
    tmp_path: Path, tmpdir_with_canaries, whiteout: str
) -> None:
    workdir, canaries = tmpdir_with_canaries
    ref = catalog_image(tmp_path, layer_of(*good_catalog_entries()), layer_of((whiteout, b"")))
    with pytest.raises(UnsafeContent, match="whiteout"):
        serve.open_catalog(ref, Stores(), workdir)
    assert all(c.read_text() == "still here" for c in canaries)


@pytest.mark.parametrize(
    "visible", [["cyber-dojo.sh", "/tmp/secret.txt"], ["cyber-dojo.sh", "../../../etc/hostname"]]
)
def test_a_catalog_naming_host_files_is_refused_not_served(
    tmp_path: Path, tmpdir_with_canaries, visible: list[str]
) -> None:
    workdir, _ = tmpdir_with_canaries
    ref = catalog_image(tmp_path, layer_of(*good_catalog_entries(visible)))
    with pytest.raises(InvalidStartPoint) as refused:
        serve.open_catalog(ref, Stores(), workdir)
    reasons = [str(p) for p in refused.value.problems]
    assert any(visible[1] in r and "relative path" in r for r in reasons), reasons


def test_a_visible_file_that_is_a_link_out_is_refused(tmp_path: Path, tmpdir_with_canaries) -> None:
    workdir, _ = tmpdir_with_canaries
    (tmp_path / "secret.txt").write_text("host secret")
    entries = [e for e in good_catalog_entries() if not e[0].endswith("/hiker.sh")]
    sp = f"{CATALOG_PATH}/0/start_point"
    hops = "../" * (len(Path(sp).parts) + 1)
    ref = catalog_image(tmp_path, layer_of(*entries, link(f"{sp}/hiker.sh", f"{hops}secret.txt")))
    with pytest.raises(UnsafeContent, match="leads outside"):
        serve.open_catalog(ref, Stores(), workdir)


def test_a_link_chain_in_a_catalog_image_is_refused(tmp_path: Path, tmpdir_with_canaries) -> None:
    workdir, _ = tmpdir_with_canaries
    sp = f"{CATALOG_PATH}/0/start_point"
    depth = len(Path(sp).parts)
    entries = [e for e in good_catalog_entries() if not e[0].endswith("/hiker.sh")]
    ref = catalog_image(
        tmp_path,
        layer_of(
            *entries,
            link(f"{sp}/up", "/".join([".."] * depth)),  # the unpack root: inside
            link(f"{sp}/hiker.sh", "up/" + "../" * 3 + "etc/passwd"),  # via up: outside
        ),
    )
    with pytest.raises(UnsafeContent, match="outside"):
        serve.open_catalog(ref, Stores(), workdir)


def test_a_served_folder_is_checked_as_assemble_checks(tmp_path: Path) -> None:
    folder = tmp_path / "catalog" / "0" / "start_point"
    folder.mkdir(parents=True)
    for name, data in good_catalog_entries(["cyber-dojo.sh", "/etc/hostname"]):
        (tmp_path / "catalog" / Path(name).relative_to(CATALOG_PATH)).write_bytes(data)
    with pytest.raises(InvalidStartPoint, match="not served"):
        served.load(tmp_path / "catalog")


@pytest.mark.parametrize(
    ("index", "reason"),
    [
        ({"kind": "languages"}, "start_points must be a list"),
        ({"start_points": [{"index": 0}]}, "each with a manifest path"),
        ({"start_points": "0/start_point/manifest.json"}, "start_points must be a list"),
        ({"kind": ["x"], "start_points": []}, "is not one of"),
        ([1, 2], "must hold a JSON object"),
    ],
)
def test_a_broken_catalog_json_is_a_named_error(tmp_path: Path, index: object, reason: str) -> None:
    (tmp_path / "catalog.json").write_text(json.dumps(index))
    with pytest.raises(StartpointsError, match=reason):
        served.load(tmp_path)


def test_a_catalog_json_manifest_path_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    index = {"start_points": [{"manifest": "../outside/manifest.json"}]}
    (catalog / "catalog.json").write_text(json.dumps(index))
    with pytest.raises(InvalidStartPoint) as refused:
        served.load(catalog)
    assert "outside" in str(refused.value.problems[0])


def test_a_deeply_nested_catalog_json_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text("[" * 100_000)
    with pytest.raises(StartpointsError, match="nested more than"):
        served.load(tmp_path)


def test_assemble_refuses_a_link_chain_and_keeps_the_old_output(tmp_path: Path) -> None:
    from startpoints.workflows import assemble

    source = tmp_path / "src" / "start_point"
    shutil.copytree(EXAMPLES / "bash-bats" / "start_point", source)
    (source / "a/b/c").mkdir(parents=True)
    (source / "a/b/c/up").symlink_to("../../..")  # start_point/ itself: inside
    (source / "a/b/c/out").symlink_to("up/../../../../etc/passwd")  # via up: outside
    output = tmp_path / "catalog"
    output.mkdir()
    (output / "catalog.json").write_text("the old catalog")
    with pytest.raises(InvalidStartPoint) as refused:
        assemble.assemble(
            assemble.Request(sources=[str(tmp_path / "src")], output=output), Stores()
        )
    assert "a/b/c/out: symlink leaves the folder" in str(refused.value.problems[0])
    assert (output / "catalog.json").read_text() == "the old catalog"
    assert not list(tmp_path.glob(".startpoints-assemble-*"))
