"""`startpoints update`: a list's start-point image lines pinned to the newest published start
point of each language repo, against a real registry and a real git daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from startpoints.core.reference import Reference
from startpoints.errors import InvalidStartPoint, StartpointsError
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble, publish, update
from tests.conftest import EXAMPLES, RepoFactory, git
from tests.servers import GitDaemon, Registry


def commit(repo: Path, text: str) -> None:
    (repo / "start_point" / "cyber-dojo.sh").write_text(text)
    git(repo, "commit", "-qam", text)


@pytest.fixture
def published(
    make_repo: RepoFactory,
    daemon: GitDaemon,
    language_image: Callable[..., Reference],
    stores: Stores,
) -> tuple[Path, list[Reference], str]:
    """A language repo on a git daemon with three commits; the first two published, the
    newest not yet. Returns the work repo, the two start-point images and the served URL."""
    repo = make_repo()
    url = f"{daemon.url}/python-pytest.git"
    image = language_image()
    images = []
    git(daemon.base, "init", "-q", "--bare", "python-pytest.git")
    for i in range(3):
        if i:
            commit(repo, f"pytest run {i}\n")
        git(repo, "push", "-q", str(daemon.base / "python-pytest.git"), "main")
        if i < 2:
            request = publish.Request(repo_dir=repo, image=image, source=url)
            images.append(publish.publish(request, stores).start_point)
    return repo, images, url


def sha7(repo: Path, revision: str = "HEAD") -> str:
    return git(repo, "rev-parse", "--short=7", revision)


def test_a_line_is_pinned_to_the_newest_published_commit_and_the_rest_is_kept(
    published: tuple[Path, list[Reference], str], stores: Stores
) -> None:
    repo, images, _url = published
    first = images[0].with_tag(images[0].tag or "")  # repo:sha7, unpinned
    folder = str(EXAMPLES / "bash-bats")
    git_line = "0123abc@https://github.com/cyber-dojo-start-points/bash-bats"
    text = f"# languages\n\n{first}   # python, pytest\n{git_line}\n  {folder}\n"
    result = update.update(text, stores)

    newest = images[1]  # the third commit is not published: the second is the newest
    assert newest.tag == sha7(repo, "HEAD~1")
    assert [(c.line, c.old, c.new, c.behind) for c in result.changes] == [
        (3, str(first), f"{newest.name}:{newest.tag}@{newest.digest}", True)
    ]
    assert result.text == (
        f"# languages\n\n{newest.name}:{newest.tag}@{newest.digest}   # python, pytest\n"
        f"{git_line}\n  {folder}\n"
    )
    again = update.update(result.text, stores)
    assert again.changes == [] and again.text == result.text and not again.behind


def test_a_current_line_is_pinned_but_not_behind(
    published: tuple[Path, list[Reference], str], stores: Stores
) -> None:
    _repo, images, _url = published
    current = images[1].with_tag(images[1].tag or "")
    result = update.update(f"{current}\n", stores)
    assert [c.behind for c in result.changes] == [False]
    assert result.text == f"{current}@{images[1].digest}\n"


def test_check_exits_1_while_behind_and_changes_nothing(
    published: tuple[Path, list[Reference], str], tmp_path: Path
) -> None:
    _repo, images, _url = published
    listed = tmp_path / "start-points.txt"
    listed.write_text(f"{images[0].with_tag(images[0].tag or '')}\n")
    before = listed.read_text()

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "startpoints", "update", str(listed), *extra]
        return subprocess.run(command, capture_output=True, text=True)

    checked = run("--check", "--json")
    assert checked.returncode == 1, checked.stderr
    assert listed.read_text() == before
    assert json.loads(checked.stdout)[0]["behind"] is True
    assert f"{listed}:1: newer: " in checked.stderr
    assert run().returncode == 0
    assert listed.read_text() == f"{images[1]}\n"
    assert run("--check").returncode == 0


def test_assemble_takes_a_pinned_line_and_refuses_a_digest_the_tag_does_not_name(
    published: tuple[Path, list[Reference], str], stores: Stores
) -> None:
    _repo, images, _url = published
    done = assemble.assemble(assemble.Request(sources=[str(images[1])]), stores)
    assert done.start_points[0]["start_point_digest"] == images[1].digest
    wrong = images[1].with_tag(images[1].tag or "").with_digest(images[0].digest or "")
    with pytest.raises(InvalidStartPoint) as caught:
        assemble.assemble(assemble.Request(sources=[str(wrong)]), stores)
    assert "not the pinned digest" in str(caught.value.problems[0])


def test_an_image_with_no_published_commit_on_the_default_branch_is_an_error(
    published: tuple[Path, list[Reference], str], stores: Stores, daemon: GitDaemon
) -> None:
    repo, images, _url = published
    # the branch rewritten: no commit of it is a published tag any more
    git(repo, "checkout", "-q", "--orphan", "fresh")
    git(repo, "commit", "-qm", "fresh start")
    git(repo, "push", "-qf", str(daemon.base / "python-pytest.git"), "fresh:main")
    with pytest.raises(StartpointsError, match="is published as a tag"):
        update.update(f"{images[0]}\n", stores)


def test_a_catalog_image_is_rebuilt_byte_for_byte_from_the_sources_it_records(
    published: tuple[Path, list[Reference], str], registry: Registry, tmp_path: Path
) -> None:
    """`assemble --from CATALOG_IMAGE` takes the pinned sources (and kind) its catalog.json
    records: the same image, the same digest."""
    _repo, images, _url = published
    folder = tmp_path / "bash-bats"
    shutil.copytree(EXAMPLES / "bash-bats", folder)
    listed = tmp_path / "list.txt"
    listed.write_text(f"{images[1].with_tag(images[1].tag or '')}\n{folder}\n")
    first, again = (f"{registry.host}/cdl/catalog:{t}" for t in ("one", "again"))

    def assemble_cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "startpoints", "assemble", *args],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    built = assemble_cli("--from", str(listed), "--kind", "custom", "--tag", first)
    rebuilt = assemble_cli("--from", first, "--tag", again, "--output", str(tmp_path / "out"))
    assert built.split("@")[1] == rebuilt.split("@")[1]
    index = json.loads((tmp_path / "out" / "catalog.json").read_text())
    assert index["kind"] == "custom"
    tagged = str(images[1].with_tag(images[1].tag or ""))
    assert index["sources"] == [  # each as given; the image with the digest it was at
        {"source": tagged, "digest": images[1].digest},
        {"source": str(folder), "digest": None},
    ]
