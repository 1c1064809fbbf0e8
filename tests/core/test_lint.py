"""lint over folders and trees: discovery, catalog-wide checks, and the command's exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from startpoints.cli.main import main
from startpoints.core.lint import find_start_points, lint

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_finds_start_points_in_trees_skipping_git(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "x")
    (tmp_path / "x" / ".git" / "start_point").mkdir(parents=True)
    (tmp_path / "x" / ".git" / "start_point" / "manifest.json").write_text("{}")
    found = find_start_points(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "x/bash-bats/start_point",
        "x/python-pytest/start_point",
    ]


def test_examples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(EXAMPLES)]) == 0
    assert "2 start points checked (languages), 0 problems" in capsys.readouterr().err


def test_duplicate_display_names_across_folders_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLES / "python-pytest", tmp_path / "a")
    shutil.copytree(EXAMPLES / "python-pytest", tmp_path / "b")
    assert main(["lint", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("is not unique in the catalog" in line for line in out)


def test_every_problem_listed_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sp = tmp_path / "sp"
    shutil.copytree(EXAMPLES / "bash-bats" / "start_point", sp)
    data = json.loads((sp / "manifest.json").read_text())
    data.update(tab_size=0, max_seconds=0, colour="red")
    (sp / "manifest.json").write_text(json.dumps(data))
    assert main(["lint", str(sp), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert sorted(p["key"] or p["reason"] for p in report["problems"]) == [
        "max_seconds",
        "tab_size",
        'unknown key "colour"',
    ]
    assert all(p["file"] == str(sp / "manifest.json") for p in report["problems"])


def test_kind_changes_the_rules(tmp_path: Path) -> None:
    sp = tmp_path / "sp"
    sp.mkdir()
    (sp / "readme.txt").write_text("doors")
    (sp / "manifest.json").write_text(
        '{"display_name": "100 doors", "visible_filenames": ["readme.txt"]}'
    )
    assert lint([sp], "exercises").problems == []
    assert (
        len(lint([sp], "languages").problems) == 3
    )  # image_name, filename_extension, cyber-dojo.sh


def test_missing_paths_and_empty_trees_are_problems(tmp_path: Path) -> None:
    problems = [str(p) for p in lint([tmp_path / "nope", tmp_path], "languages").problems]
    assert problems == [
        f"{tmp_path / 'nope'}: does not exist",
        f"{tmp_path}: holds no manifest.json",
    ]


def test_start_points_are_found_as_cyber_dojo_finds_them(tmp_path: Path) -> None:
    """Dir.glob("**/manifest.json"): a folder's own manifest does not hide those below it,
    dot-folders are not searched, and the order is the manifest paths' name by name."""
    for folder in [
        "manifest-at-root",
        "manifest-at-root/deeper/x",
        "a/.hidden/y",
        "a/.git/z",
        "b",
        "a/c",
    ]:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "manifest.json").write_text("{}")
    found = [p.relative_to(tmp_path).as_posix() for p in find_start_points(tmp_path)]
    assert found == ["a/c", "b", "manifest-at-root/deeper/x", "manifest-at-root"]


def test_the_count_of_problems_agrees_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "1 problem", never "1 problems" (as lint, assemble, publish and serve say it)."""
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"display_name": "x"}')
    assert main(["lint", str(folder), "--kind", "exercises"]) == 1
    said = capsys.readouterr().err
    assert ", 1 problem" in said and "1 problems" not in said
