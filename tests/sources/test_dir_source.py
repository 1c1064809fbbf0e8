"""Local folder sources: taken as they are on disk, dirty trees with a warning, safely."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from startpoints import sources
from startpoints.errors import UnsafeContent
from startpoints.oci.stores import Stores
from tests.conftest import EXAMPLES, RepoFactory, git


def fetch(path: Path, tmp_path: Path) -> tuple[Path, object, list[str]]:
    into = tmp_path / "catalog" / "0"
    said: list[str] = []
    provenance = sources.parse(str(path)).fetch(into, Stores(), said.append)
    return into, provenance, said


def test_a_start_point_folder(tmp_path: Path) -> None:
    into, provenance, said = fetch(EXAMPLES / "bash-bats" / "start_point", tmp_path)
    assert (into / "manifest.json").is_file() and (into / "cyber-dojo.sh").stat().st_mode & 0o111
    assert provenance.source_kind == "dir"  # type: ignore[attr-defined]


def test_a_clean_repo_records_its_commit_and_drops_git(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = make_repo()
    into, provenance, said = fetch(repo, tmp_path)
    assert (into / "start_point" / "manifest.json").is_file() and not (into / ".git").exists()
    assert provenance.revision == git(repo, "rev-parse", "HEAD")  # type: ignore[attr-defined]
    assert said == []


def test_a_dirty_repo_is_taken_as_it_is_with_a_warning(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = make_repo()
    (repo / "start_point" / "hiker.py").write_text("def global_answer():\n    return 42\n")
    into, _, said = fetch(repo, tmp_path)
    assert "42" in (into / "start_point" / "hiker.py").read_text()
    assert said == [f"warning: {repo}: uncommitted changes are included"]


def test_links_leaving_the_folder_and_special_files_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "sp"
    shutil.copytree(EXAMPLES / "bash-bats" / "start_point", folder)
    (folder / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(UnsafeContent, match="passwd: symlink leaves the folder"):
        fetch(folder, tmp_path / "a")
    (folder / "passwd").unlink()
    os.mkfifo(folder / "pipe")
    with pytest.raises(UnsafeContent, match="pipe: not a regular file"):
        fetch(folder, tmp_path / "b")


def test_a_language_repo_contributes_its_start_point_only(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    def with_jars(sp: Path) -> None:
        (sp.parent / "docker").mkdir()
        (sp.parent / "docker" / "big.jar").write_bytes(b"\0" * 1024)
        (sp.parent / "README.md").write_text("readme")

    into, _, _ = fetch(make_repo(edit=with_jars), tmp_path)
    assert sorted(p.name for p in into.iterdir()) == ["start_point"]
