"""`startpoints diff`: start points added, removed and changed between two catalogs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from startpoints.core import served
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble, diff
from tests.conftest import EXAMPLES

ADDED = "Python Behave 3.12, pytest 8.3"
PYTEST = "Python 3.12, pytest 8.3"


def catalog(tmp_path: Path, name: str, folders: list[Path]) -> Path:
    out = tmp_path / name
    assemble.assemble(assemble.Request(sources=[str(f) for f in folders], output=out), Stores())
    return out


def two(tmp_path: Path) -> tuple[Path, Path]:
    """Old: python-pytest and bash-bats. New: python-pytest with one file and its image
    changed, bash-bats gone, a python-behave added."""
    pytest_sp = tmp_path / "python-pytest"
    shutil.copytree(EXAMPLES / "python-pytest", pytest_sp)
    old = catalog(tmp_path, "old", [pytest_sp, EXAMPLES / "bash-bats"])
    (pytest_sp / "start_point" / "cyber-dojo.sh").write_text("python -m pytest -q\n")
    manifest = pytest_sp / "start_point" / "manifest.json"
    loaded = json.loads(manifest.read_text())
    loaded["image_name"] = loaded["image_name"].rsplit(":", 1)[0] + ":1234567"
    manifest.write_text(json.dumps(loaded))
    added = tmp_path / "python-behave"
    shutil.copytree(EXAMPLES / "python-pytest", added)
    other = added / "start_point" / "manifest.json"
    other.write_text(other.read_text().replace('"Python', '"Python Behave', 1))
    new = catalog(tmp_path, "new", [pytest_sp, added])
    return old, new


def test_added_removed_and_changed_with_the_files_that_differ(tmp_path: Path) -> None:
    old, new = two(tmp_path)
    found = diff.compare(served.load(old), served.load(new))
    assert [sp["display_name"] for sp in found.added] == [ADDED]
    (removed,) = found.removed
    assert removed["display_name"].startswith("Bash")
    (changed,) = found.changed
    assert changed.name == PYTEST
    assert changed.fields["image_name"][1].endswith(":1234567")
    assert changed.files == ["manifest.json", "cyber-dojo.sh"]
    assert diff.compare(served.load(old), served.load(old)).empty


def test_text_json_and_markdown(tmp_path: Path) -> None:
    old, new = two(tmp_path)
    found = diff.compare(served.load(old), served.load(new))
    text = diff.as_text(found)
    assert f"+ {ADDED}" in text and "- Bash" in text and f"~ {PYTEST}" in text
    assert "files: manifest.json, cyber-dojo.sh" in text
    as_json = json.loads(diff.as_json(found))
    assert as_json["changed"][0]["fields"]["image_name"][1].endswith(":1234567")
    markdown = diff.as_markdown(found)
    assert markdown.startswith("**1 added, 1 removed, 1 changed**")
    assert f"| added | `{ADDED}` |" in markdown and f"### `{PYTEST}`" in markdown


def test_a_name_cannot_break_out_of_its_code_span() -> None:
    found = diff.Diff(added=[{"display_name": "x` <script>` y", "image_name": None}])
    assert "`x' <script>' y`" in diff.as_markdown(found)


def test_the_verb_compares_a_list_with_a_catalog_folder(tmp_path: Path) -> None:
    old, new = two(tmp_path)
    listed = tmp_path / "list.txt"
    listed.write_text(
        f"# the old sources\n{tmp_path / 'python-pytest'}\n{EXAMPLES / 'bash-bats'}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "diff", str(listed), str(new), "--markdown"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 added, 1 removed" in done.stdout  # the list is today's python-pytest: unchanged
