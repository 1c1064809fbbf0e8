"""Served manifests and names, exactly as cyber-dojo serves them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from startpoints.core import served
from tests.conftest import EXAMPLES


def catalog(tmp_path: Path, *manifests: dict, provenance: list[dict] | None = None) -> Path:
    for i, data in enumerate(manifests):
        folder = tmp_path / str(i) / "start_point"
        folder.mkdir(parents=True)
        for name in data.get("visible_filenames", []) + (
            [data["rag_lambda"]] if "rag_lambda" in data else []
        ):
            (folder / name).write_text(f"content of {name}")
        (folder / "manifest.json").write_text(json.dumps(data))
    records = [
        {
            "manifest": f"{i}/start_point/manifest.json",
            "index": i,
            **((provenance or [{}] * len(manifests))[i]),
        }
        for i in range(len(manifests))
    ]
    (tmp_path / "catalog.json").write_text(
        json.dumps({"kind": "languages", "start_points": records})
    )
    return tmp_path


JAVA = {
    "display_name": "Java 25.0.2, JUnit 6.0.3",
    "language": ["Java", "25.0.2"],
    "test_framework": ["JUnit", "6.0.3"],
    "image_name": "ghcr.io/cdl/java_junit:7aa5992",
    "visible_filenames": ["Hiker.java", "cyber-dojo.sh"],
    "rag_lambda": "red_amber_green.rb",
    "filename_extension": ".java",
}
CSHARP = {
    "display_name": "C#, NUnit",
    "image_name": "cdf/csharp_nunit:1452bb7",
    "visible_filenames": ["cyber-dojo.sh"],
    "filename_extension": [".cs"],
}


def test_served_manifest_has_contents_lists_and_rag_lambda(tmp_path: Path) -> None:
    s = served.load(catalog(tmp_path, JAVA))
    m = s.manifest("Java, JUnit")
    assert m is not None
    assert m["visible_files"] == {
        "Hiker.java": {"content": "content of Hiker.java"},
        "cyber-dojo.sh": {"content": "content of cyber-dojo.sh"},
    }
    assert "visible_filenames" not in m
    assert m["filename_extension"] == [".java"]
    assert m["rag_lambda"] == "content of red_amber_green.rb"
    assert m["display_name"] == "Java, JUnit"
    assert m["language"] == ["Java", "25.0.2"]


def test_names_fall_back_to_display_names_and_lookup_takes_either(tmp_path: Path) -> None:
    s = served.load(catalog(tmp_path, JAVA, CSHARP))
    assert s.names == ["C#, NUnit", "Java 25.0.2, JUnit 6.0.3"]
    assert s.image_names == ["cdf/csharp_nunit:1452bb7", "ghcr.io/cdl/java_junit:7aa5992"]
    java_only = served.load(catalog(tmp_path / "j", JAVA))
    assert java_only.manifest("Java 25.0.2, JUnit 6.0.3") is java_only.manifest("Java, JUnit")
    assert java_only.manifest("nope") is None


def test_start_points_carry_provenance_and_the_pinned_digest(tmp_path: Path) -> None:
    digest = "sha256:" + "b" * 64
    provenance = [
        {
            "source": "ghcr.io/cdsp/java_junit:7aa5992",
            "revision": "a" * 40,
            "start_point_image": "ghcr.io/cdsp/java_junit:7aa5992",
            "start_point_digest": "sha256:" + "c" * 64,
            "language_image": f"ghcr.io/cdl/java_junit:7aa5992@{digest}",
        }
    ]
    (entry,) = served.load(catalog(tmp_path, JAVA, provenance=provenance)).start_points
    assert entry == {
        "name": "Java, JUnit",
        "display_name": "Java 25.0.2, JUnit 6.0.3",
        "image_name": "ghcr.io/cdl/java_junit:7aa5992",
        "image_digest": digest,
        "image_size": None,
        "start_point_image": "ghcr.io/cdsp/java_junit:7aa5992",
        "start_point_digest": "sha256:" + "c" * 64,
        "source": "ghcr.io/cdsp/java_junit:7aa5992",
        "revision": "a" * 40,
        "index": 0,
    }


def test_a_plain_folder_of_start_points_is_served_without_provenance(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    s = served.load(tmp_path / "examples")
    assert s.names == ["Bash, bats", "Python, pytest"]
    assert all(e["revision"] is None for e in s.start_points)


def test_identity_changes_with_what_is_served(tmp_path: Path) -> None:
    one = served.load(catalog(tmp_path / "1", JAVA)).identity
    assert one == served.load(catalog(tmp_path / "2", JAVA)).identity
    assert (
        one
        != served.load(
            catalog(tmp_path / "3", {**JAVA, "image_name": "ghcr.io/cdl/java_junit:0000000"})
        ).identity
    )
