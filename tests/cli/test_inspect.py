"""`startpoints inspect`: what `cyber-dojo start-point inspect` prints (inspect.rb's shape)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from startpoints.cli.main import main
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.conftest import EXAMPLES


def test_inspect_is_keyed_by_raw_display_name_with_url_sha_and_image_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sources = [str(EXAMPLES / "python-pytest"), str(EXAMPLES / "bash-bats")]
    assemble.assemble(assemble.Request(sources=sources, output=tmp_path / "catalog"), Stores())
    assert main(["inspect", str(tmp_path / "catalog")]) == 0
    described = json.loads(capsys.readouterr().out)
    assert list(described) == ["Bash 5.2, bats 1.11", "Python 3.12, pytest 8.3"]  # sorted
    python = described["Python 3.12, pytest 8.3"]
    assert python["url"] == str(EXAMPLES / "python-pytest")
    assert python["image_name"] == "ghcr.io/cyber-dojo-languages/python_pytest"
    assert set(python) == {"url", "sha", "image_name"}


def test_exercises_have_no_image_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    exercise = tmp_path / "doors"
    exercise.mkdir()
    (exercise / "readme.txt").write_text("100 doors")
    (exercise / "manifest.json").write_text(
        json.dumps({"display_name": "100 doors", "visible_filenames": ["readme.txt"]})
    )
    request = assemble.Request(sources=[str(exercise)], kind="exercises", output=tmp_path / "c")
    assemble.assemble(request, Stores())
    assert main(["inspect", str(tmp_path / "c")]) == 0
    assert json.loads(capsys.readouterr().out) == {"100 doors": {"url": str(exercise), "sha": None}}
