"""Images: an OCI config and manifest over layers, canonical so digests repeat."""

from __future__ import annotations

import json
from pathlib import Path

from startpoints.oci import image, layer, mediatypes


def test_build_makes_a_runnable_oci_image(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    packed = layer.from_dir(tmp_path, "sp")
    built = image.build([packed], created="2026-06-20T12:00:00Z", annotations={"a": "1"})
    manifest = json.loads(built.manifest)
    config_blob, layer_blob = built.blobs
    config = json.loads(config_blob.data)
    assert manifest["mediaType"] == mediatypes.OCI_MANIFEST
    assert manifest["config"] == config_blob.descriptor.to_json()
    assert manifest["config"]["mediaType"] == mediatypes.OCI_CONFIG
    assert manifest["layers"] == [packed.descriptor.to_json()]
    assert manifest["annotations"] == {"a": "1"}
    assert config["rootfs"] == {"type": "layers", "diff_ids": [packed.diff_id]}
    assert (config["os"], config["architecture"], config["created"]) == (
        "linux",
        "amd64",
        "2026-06-20T12:00:00Z",
    )
    assert config["config"]["Labels"] == {"a": "1"}


def test_same_inputs_same_digest(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    packed = layer.from_dir(tmp_path, "sp")
    one = image.build([packed], created="2026-06-20T12:00:00Z", annotations={"b": "2", "a": "1"})
    two = image.build([packed], created="2026-06-20T12:00:00Z", annotations={"a": "1", "b": "2"})
    other = image.build([packed], created="2026-06-21T12:00:00Z", annotations={"a": "1", "b": "2"})
    assert one.digest == two.digest != other.digest
