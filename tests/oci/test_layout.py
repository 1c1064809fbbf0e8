"""The oci: layout store: tags in index.json, blobs verified, writes atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from startpoints.core.reference import parse
from startpoints.errors import NotFound, StoreError
from startpoints.oci import image, layer, mediatypes, write
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.layout import LayoutStore


def built(tmp_path: Path, text: str = "x") -> image.Image:
    tree = tmp_path / f"tree-{text}"
    tree.mkdir()
    (tree / "f").write_text(text)
    return image.build([layer.from_dir(tree, "sp")], created="2026-01-01T00:00:00Z", annotations={})


def test_write_resolve_fetch(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    store = LayoutStore(root)
    ref = parse(f"oci:{root}:cdsp/java_junit:4edf92a")
    img = built(tmp_path)
    assert store.resolve(ref) is None

    written = write.write(store, ref, img)

    assert written.blobs_uploaded == 2
    assert store.resolve(ref) == img.descriptor
    assert store.resolve(ref.at_digest(img.digest)) == img.descriptor
    data, descriptor = store.fetch_manifest(ref)
    assert data == img.manifest and descriptor == img.descriptor
    assert json.loads((root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((root / "index.json").read_text())
    assert index["mediaType"] == mediatypes.OCI_INDEX
    assert index["manifests"][0]["annotations"] == {
        "org.opencontainers.image.ref.name": "cdsp/java_junit:4edf92a"
    }
    assert write.write(store, ref, img).blobs_uploaded == 0


def test_retagging_replaces_only_that_ref_name(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    store = LayoutStore(root)
    first, second = built(tmp_path, "1"), built(tmp_path, "2")
    write.write(store, parse(f"oci:{root}:a:1"), first)
    write.write(store, parse(f"oci:{root}:a:2"), first)
    write.write(store, parse(f"oci:{root}:a:2"), second)
    assert store.tags() == ["a:1", "a:2"]
    assert store.resolve(parse(f"oci:{root}:a:1")) == first.descriptor
    assert store.resolve(parse(f"oci:{root}:a:2")) == second.descriptor


def test_corrupted_blob_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    store = LayoutStore(root)
    ref = parse(f"oci:{root}:a:1")
    img = built(tmp_path)
    write.write(store, ref, img)
    config = img.blobs[0].descriptor
    blob = root / "blobs" / "sha256" / config.digest.split(":")[1]
    blob.write_bytes(blob.read_bytes().replace(b"amd64", b"arm64"))
    with pytest.raises(StoreError, match="does not match"):
        store.fetch_blob(ref, config)
    with pytest.raises(StoreError, match="bytes, its descriptor says"):
        store.fetch_blob(ref, Descriptor(config.media_type, config.digest, config.size + 1))


def test_missing_things(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "nothing")
    ref = parse(f"oci:{tmp_path / 'nothing'}:a:1")
    with pytest.raises(NotFound, match="no such image"):
        store.fetch_manifest(ref)
    with pytest.raises(NotFound, match="missing"):
        store.fetch_blob(ref, Descriptor("x", "sha256:" + "0" * 64, 1))
    with pytest.raises(StoreError, match="unsupported digest"):
        store.has_blob(ref, Descriptor("x", "sha256:../../etc", 1))


def test_push_blob_verifies_before_writing(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "l")
    ref = parse(f"oci:{tmp_path / 'l'}:a:1")
    with pytest.raises(StoreError):
        store.push_blob(ref, Descriptor("x", "sha256:" + "0" * 64, 3), b"abc")
    assert not (tmp_path / "l" / "blobs" / "sha256" / ("0" * 64)).exists()
