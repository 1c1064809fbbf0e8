"""sha7@git-url sources over a real `git daemon`: the exact commit, cheaply, without .git."""

from __future__ import annotations

from pathlib import Path

import pytest

from startpoints import sources
from startpoints.errors import GitError
from startpoints.oci.stores import Stores
from startpoints.sources import source
from startpoints.sources.git import GitSource
from tests.conftest import RepoFactory, git
from tests.servers import GitDaemon


def serve(repo: Path, daemon: GitDaemon, name: str) -> str:
    git(daemon.base, "clone", "-q", "--bare", str(repo), f"{name}.git")
    return f"{daemon.url}/{name}.git"


def fetch(text: str, tmp_path: Path) -> tuple[Path, object]:
    into = tmp_path / "catalog" / "0"
    into.parent.mkdir(parents=True, exist_ok=True)
    return into, sources.parse(text).fetch(into, Stores(), lambda _: None)


def test_a_tip_commit_is_fetched_shallow(
    make_repo: RepoFactory, daemon: GitDaemon, tmp_path: Path
) -> None:
    repo = make_repo()
    url = serve(repo, daemon, "python-pytest")
    sha = git(repo, "rev-parse", "HEAD")

    into, provenance = fetch(f"{sha[:7]}@{url}", tmp_path)

    assert (into / "start_point" / "manifest.json").is_file()
    assert not (into / ".git").exists()
    assert provenance.revision == sha and provenance.source_kind == "git"  # type: ignore[attr-defined]
    assert provenance.repository == url  # type: ignore[attr-defined]


def test_an_older_commit_comes_through_a_blobless_clone(
    make_repo: RepoFactory, daemon: GitDaemon, tmp_path: Path
) -> None:
    repo = make_repo()
    old = git(repo, "rev-parse", "HEAD")
    (repo / "start_point" / "hiker.py").write_text("def global_answer():\n    return 42\n")
    git(repo, "commit", "-qam", "green")
    url = serve(repo, daemon, "moved-on")

    into, provenance = fetch(f"{old[:7]}@{url}", tmp_path)

    assert "6 * 9" in (into / "start_point" / "hiker.py").read_text()
    assert provenance.revision == old  # type: ignore[attr-defined]


def test_a_local_path_url_works(make_repo: RepoFactory, tmp_path: Path) -> None:
    repo = make_repo()
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")
    into, _ = fetch(f"{sha7}@file://{repo}", tmp_path)
    assert (into / "start_point" / "cyber-dojo.sh").is_file()


def test_an_unknown_commit_is_a_clear_error(
    make_repo: RepoFactory, daemon: GitDaemon, tmp_path: Path
) -> None:
    url = serve(make_repo(), daemon, "repo")
    with pytest.raises(GitError, match="reading commit 1234567"):
        fetch(f"1234567@{url}", tmp_path)


def test_an_unreachable_server_is_a_clear_error_without_credentials(tmp_path: Path) -> None:
    with pytest.raises(GitError) as caught:
        fetch("1234567@https://user:s3cr3t@127.0.0.1:1/x.git", tmp_path)
    assert "s3cr3t" not in str(caught.value) and "listing https://127.0.0.1:1/x.git" in str(
        caught.value
    )


def test_parse_takes_exactly_seven_hex_digits() -> None:
    assert isinstance(
        sources.parse("384f486@https://github.com/cyber-dojo-start-points/java-junit"), GitSource
    )
    with pytest.raises(source.BadSource):
        sources.parse("384f48@https://github.com/cyber-dojo-start-points/java-junit")


def test_only_start_point_is_exported_when_the_repo_has_one(
    make_repo: RepoFactory, daemon: GitDaemon, tmp_path: Path
) -> None:
    def with_jars(sp: Path) -> None:
        (sp.parent / "docker").mkdir()
        (sp.parent / "docker" / "big.jar").write_bytes(b"\0" * 1024)

    repo = make_repo(edit=with_jars)
    url = serve(repo, daemon, "with-jars")
    into, _ = fetch(f"{git(repo, 'rev-parse', '--short=7', 'HEAD')}@{url}", tmp_path)
    assert sorted(p.name for p in into.iterdir()) == ["start_point"]


@pytest.mark.parametrize("branch", ["master", "main"])
def test_an_untagged_url_is_its_master_else_main_branch_tip(
    make_repo: RepoFactory, daemon: GitDaemon, tmp_path: Path, branch: str
) -> None:
    """As cyber-dojo's create script: `git clone --branch master`, else `--branch main`."""
    repo = make_repo()
    git(repo, "branch", "-m", branch)
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "start_point" / "hiker.py").write_text("not on the default branch\n")
    git(repo, "commit", "-qam", "elsewhere")
    git(repo, "checkout", "-q", branch)
    tip = git(repo, "rev-parse", branch)
    for url in (serve(repo, daemon, f"lang-{branch}"), f"file://{repo}"):
        into, provenance = fetch(url, tmp_path / url.split("/")[-1])
        assert provenance.revision == tip  # type: ignore[attr-defined]
        assert "not on the default branch" not in (into / "start_point" / "hiker.py").read_text()


def test_an_untagged_url_with_neither_branch_is_a_clear_error(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    repo = make_repo()
    git(repo, "branch", "-m", "trunk")
    with pytest.raises(GitError, match="not a git repository, or no master or main branch"):
        fetch(f"file://{repo}", tmp_path)
