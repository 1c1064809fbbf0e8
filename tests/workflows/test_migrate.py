"""`startpoints update --migrate`: cyber-dojo's `git_repo_urls.tagged` list, each line whose
commit its start-points repository has published replaced by that start-point image, against
a real registry and a real git daemon; the catalog before and after compared by `diff`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from startpoints.core import reference
from startpoints.core.reference import Reference
from startpoints.errors import StartpointsError
from startpoints.oci.stores import Stores
from startpoints.workflows import publish, update
from tests.conftest import RepoFactory, git, pinned_to
from tests.servers import GitDaemon, Registry


def served(repo: Path, daemon: GitDaemon, path: str) -> str:
    """`repo` pushed to the daemon as `path`; its `sha7@git://…` line."""
    (daemon.base / path).parent.mkdir(parents=True, exist_ok=True)
    git(daemon.base, "init", "-q", "--bare", path)
    git(repo, "push", "-q", str(daemon.base / path), "main")
    return f"{git(repo, 'rev-parse', '--short=7', 'HEAD')}@{daemon.url}/{path}"


@pytest.fixture
def tagged_list(
    make_repo: RepoFactory,
    daemon: GitDaemon,
    language_image: Callable[..., Reference],
    registry: Registry,
    stores: Stores,
    unique: str,
) -> tuple[str, Reference, str]:
    """Two start-points repositories on a git daemon, as `git_repo_urls.tagged` lists them;
    the first published by its CI (two-repository layout), the second not yet."""
    org = f"Cyber-Dojo-Start-Points{unique}"
    pinned = language_image("7aa5992")

    first = make_repo(name="python-pytest", edit=pinned_to(str(pinned)))
    second = make_repo(example="bash-bats", name="bash-bats")
    first_line = served(first, daemon, f"{org}/python-pytest.git")
    second_line = served(second, daemon, f"{org}/bash-bats.git")
    target = reference.parse(f"{registry.host}/{org.lower()}/python-pytest")
    request = publish.Request(repo_dir=first, startpoints_repo=target)
    image = publish.publish(request, stores).start_point
    text = f"# regenerated from data/*/git_repo.url\n{first_line}\n{second_line}  # not yet\n"
    return text, image, second_line


def test_a_published_commit_becomes_its_image_pinned_and_the_rest_stays_git(
    tagged_list: tuple[str, Reference, str], registry: Registry, stores: Stores
) -> None:
    text, image, second_line = tagged_list
    said: list[str] = []

    result = update.update(text, stores, say=said.append, migrate_to=registry.host)

    assert result.text == (
        f"# regenerated from data/*/git_repo.url\n{image}\n{second_line}  # not yet\n"
    )
    assert [(c.line, c.new, c.migrated) for c in result.changes] == [(2, str(image), True)]
    assert any(second_line in line and "kept" in line for line in said)
    assert update.update(text, stores).changes == []  # without --migrate git lines are kept


def test_a_url_naming_no_owner_and_repository_is_an_error(
    registry: Registry, stores: Stores
) -> None:
    with pytest.raises(StartpointsError, match="names no OWNER/REPO"):
        update.update("0123abc@https://example.com/\n", stores, migrate_to=registry.host)


def test_the_migrated_list_assembles_the_same_start_points_as_the_git_list(
    tagged_list: tuple[str, Reference, str], registry: Registry, tmp_path: Path
) -> None:
    text, image, _ = tagged_list
    old = tmp_path / "git_repo_urls.tagged"
    old.write_text(text)
    new = tmp_path / "start-points.txt"
    new.write_text(text)
    env = {**os.environ, "HOME": str(tmp_path)}

    def startpoints(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "startpoints", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    migrated = startpoints("update", str(new), "--migrate", registry.host)
    assert migrated.returncode == 0, migrated.stderr
    assert f"{new}:2: published: " in migrated.stderr
    assert str(image) in new.read_text().splitlines()

    compared = startpoints("diff", str(old), str(new), "--json")
    assert compared.returncode == 0, compared.stderr
    found = json.loads(compared.stdout)
    assert found["added"] == [] and found["removed"] == []
    (changed,) = found["changed"]  # the same commit and language image, now fetched as an image
    assert set(changed["fields"]) == {"start_point_image", "start_point_digest"}, changed
