"""create: cyber-dojo's command, into a real engine (podman's Docker API), a registry or a layout."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from startpoints.cli.create import UsageError, parse
from startpoints.core.reference import Reference
from startpoints.core.reference import parse as parse_ref
from startpoints.oci.stores import Stores
from startpoints.workflows import create, publish
from tests.conftest import EXAMPLES, RepoFactory, git
from tests.servers import Podman, Registry


@pytest.mark.parametrize(
    ("words", "code", "message"),
    [
        (["--languages", "x"], 6, "--languages requires preceding <image_name>"),
        (["--custom", "x"], 4, "--custom requires preceding <image_name>"),
        (["--exercises"], 5, "--exercises requires preceding <image_name>"),
        (["jj"], 7, "<image-name> must be followed by one of --custom/--exercises/--languages"),
        (
            ["jj", "x"],
            7,
            "<image-name> must be followed by one of --custom/--exercises/--languages",
        ),
        (["jj", "--custom"], 8, "--custom requires at least one <git-repo-url>"),
        (["jj", "--exercises"], 9, "--exercises requires at least one <git-repo-url>"),
        (["jj", "--languages"], 10, "--languages requires at least one <git-repo-url>"),
        (["jj", "--custom", "a", "a"], 11, "--custom duplicated git-repo-urls\na"),
        (
            ["jj", "--languages", "a", "b", "a", "b"],
            13,
            "--languages duplicated git-repo-urls\na\nb",
        ),
        (["Bad/Name", "--languages", "a"], 14, "malformed <image-name> Bad/Name"),
    ],
)
def test_cyber_dojo_argument_checks(words: list[str], code: int, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(words)
    assert (caught.value.code, str(caught.value)) == (code, message)


def test_the_command_exits_with_cyber_dojos_codes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "create", "--languages", "x"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 6 and "requires preceding <image_name>" in done.stderr
    assert (
        subprocess.run(
            [sys.executable, "-m", "startpoints", "create"], capture_output=True, text=True
        ).returncode
        == 0
    )


def test_good_arguments(tmp_path: Path) -> None:
    parsed = parse(["jj", "--languages", "a", "b", "--push", "--base", "x/y:1"])
    assert (
        str(parsed["name"]),
        parsed["kind"],
        parsed["sources"],
        parsed["push"],
        parsed["base"],
    ) == ("jj", "languages", ["a", "b"], True, "x/y:1")


def test_create_languages_pwd_on_a_dirty_repo_into_the_engine(
    podman: Podman, make_repo: RepoFactory
) -> None:
    repo = make_repo()
    (repo / "start_point" / "hiker.py").write_text(
        "def global_answer():\n    return 42\n"
    )  # uncommitted
    said: list[str] = []

    created = create.create(
        create.Request(
            name=parse_ref("jj"), kind="languages", sources=[str(repo)], engine=podman.url
        ),
        Stores(),
        say=said.append,
    )

    assert created == "jj"
    assert not [s for s in said if "uncommitted" in s]  # the committed branch is what is read
    engine = docker.DockerClient(base_url=podman.url)
    labels = engine.images.get("jj:latest").labels
    assert labels["org.cyber-dojo.start-point"] == "languages"


def test_create_pushes_to_a_registry_and_serves_back(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    registry: Registry,
    unique: str,
) -> None:
    published = publish.publish(
        publish.Request(repo_dir=make_repo(), image=language_image()), stores
    )
    name = parse_ref(f"{registry.host}/cdl{unique}/languages-start-points:abc1234")
    created = create.create(
        create.Request(
            name=name, kind="languages", sources=[str(published.start_point)], push=True
        ),
        stores,
    )
    assert created.startswith(f"{name}@sha256:")
    from startpoints.workflows import serve

    served = serve.open_catalog(created, stores)
    assert served.names == ["Python, pytest"]
    assert served.start_points[0]["start_point_digest"] == published.start_point.digest


def test_create_into_an_oci_layout(tmp_path: Path) -> None:
    name = parse_ref(f"oci:{tmp_path / 'layout'}:cdsp/exercises:v1")
    exercise = tmp_path / "doors"
    exercise.mkdir()
    (exercise / "readme.txt").write_text("100 doors")
    (exercise / "manifest.json").write_text(
        json.dumps({"display_name": "100 doors", "visible_filenames": ["readme.txt"]})
    )
    git(exercise, "init", "-q", "-b", "master")
    git(exercise, "add", "-A")
    git(exercise, "commit", "-qm", "doors")
    created = create.create(
        create.Request(name=name, kind="exercises", sources=[str(exercise)]), Stores()
    )
    assert created.startswith(f"{name}@sha256:")


def test_no_engine_is_a_clear_error(tmp_path: Path) -> None:
    from startpoints.errors import StoreError

    with pytest.raises(StoreError, match="engine unreachable|no Docker engine"):
        create.create(
            create.Request(
                name=parse_ref("jj"),
                kind="languages",
                sources=[str(EXAMPLES / "bash-bats")],
                engine=f"unix://{tmp_path}/none.sock",
            ),
            Stores(),
        )


def test_build_images_builds_the_language_image_and_points_the_start_point_at_it(
    podman: Podman, make_repo: RepoFactory
) -> None:
    def with_dockerfile(sp: Path) -> None:
        (sp.parent / "docker").mkdir()
        (sp.parent / "docker" / "Dockerfile").write_text(
            "FROM scratch\nCOPY marker.txt /marker.txt\n"
        )
        (sp.parent / "docker" / "marker.txt").write_text("a language image\n")

    repo = make_repo(edit=with_dockerfile)
    from tests.conftest import git

    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")
    # work on a branch, committed and not, is not what the catalog reads: main's tip is
    git(repo, "checkout", "-q", "-b", "wip")
    (repo / "docker" / "marker.txt").write_text("work in progress\n")
    git(repo, "commit", "-q", "-am", "wip")
    (repo / "docker" / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /\n")
    create.create(
        create.Request(
            name=parse_ref("jj-built:1"),
            kind="languages",
            sources=[str(repo)],
            engine=podman.url,
            build_images=True,
        ),
        Stores(),
    )
    engine = docker.DockerClient(base_url=podman.url)
    image = engine.images.get(f"ghcr.io/cyber-dojo-languages/python_pytest:{sha7}")
    container = engine.containers.create(image.id, command=["x"])
    try:
        archive = b"".join(container.get_archive("/marker.txt")[0])
    finally:
        container.remove()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.extractfile("marker.txt").read() == b"a language image\n"  # type: ignore[union-attr]
    wip = git(repo, "rev-parse", "--short=7", "wip")
    assert not engine.images.list(f"ghcr.io/cyber-dojo-languages/python_pytest:{wip}")


def test_the_command_with_languages_pwd_into_the_engine_named_by_docker_host(
    podman: Podman, make_repo: RepoFactory
) -> None:
    repo = make_repo()
    (repo / "start_point" / "hiker.py").write_text(
        "def global_answer():\n    return 42\n"
    )  # a dirty tree
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "create", "jj-cli", "--languages", ".", "--base", "none"],
        cwd=repo, capture_output=True, text=True, env={**os.environ, "DOCKER_HOST": podman.url}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Successfully built jj-cli"  # as cyber-dojo's
    assert docker.DockerClient(base_url=podman.url).images.get("jj-cli:latest")


def test_a_local_folder_is_read_as_the_create_script_clones_it(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    """Its committed master, else main, branch; not the work tree, nor another branch."""
    repo = make_repo()
    committed = (repo / "start_point" / "hiker.py").read_text()
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "start_point" / "hiker.py").write_text("on another branch\n")
    git(repo, "commit", "-qam", "feature")
    (repo / "start_point" / "hiker.py").write_text("not committed\n")
    name = parse_ref(f"oci:{tmp_path / 'layout'}:cdsp/languages:v1")
    created = create.create(
        create.Request(name=name, kind="languages", sources=[str(repo)]), Stores()
    )
    catalog = served_catalog(created, tmp_path / "served")
    assert catalog.manifests[catalog.names[0]]["visible_files"]["hiker.py"]["content"] == committed


def test_a_folder_that_is_not_a_repository_fails_as_a_clone_fails(tmp_path: Path) -> None:
    from startpoints.errors import InvalidStartPoint

    folder = tmp_path / "plain"
    shutil.copytree(EXAMPLES / "bash-bats", folder)
    name = parse_ref(f"oci:{tmp_path / 'layout'}:cdsp/languages:v1")
    with pytest.raises(InvalidStartPoint) as raised:
        create.create(create.Request(name=name, kind="languages", sources=[str(folder)]), Stores())
    assert "cannot be fetched" in str(raised.value.problems[0])


def served_catalog(image: str, workdir: Path) -> Any:
    from startpoints.workflows import serve

    workdir.mkdir()
    return serve.open_catalog(image, Stores(), workdir)


@pytest.mark.parametrize("url", ["+bad", "b", "x/y"])
def test_any_other_source_is_a_git_url_whose_failed_clone_is_said_as_the_script_says_it(
    url: str, tmp_path: Path
) -> None:
    """Not a folder, a sha7@url or an image with a tag or digest: a git URL, as cyber-dojo's
    create script takes it. Its failed clone is the script's three lines (`<url>` literal
    there), git's own words being what the script's last try, `git clone --single-branch
    --branch main URL 0`, says here; exit 3, and no other source reported."""
    tried = subprocess.run(
        ["git", "clone", "--single-branch", "--branch", "main", url, "0"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert tried.returncode != 0
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "create", f"oci:{tmp_path / 'out'}:x",
         "--languages", url, "+also-bad"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3
    expected = ["ERROR: bad git clone <url>", f"--languages {url}", *tried.stderr.splitlines()]
    assert done.stderr.splitlines() == expected
    assert done.stdout == ""


def test_a_tagged_url_whose_commit_is_not_there_is_said_as_the_scripts_checkout_says_it(
    tmp_path: Path, make_repo: RepoFactory
) -> None:
    """The script clones the url, prints `git clone URL` and `git checkout SHA7`, then, the
    checkout failing, `ERROR: git checkout SHA7`, `--languages` and git's own words; exit 3.
    A tagged url that cannot be cloned is the clone's lines, naming the url without its tag."""
    repo = make_repo()
    url = f"file://{repo}"
    clone = subprocess.run(
        ["git", "clone", "-q", "--single-branch", "--branch", "main", url, "0"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert clone.returncode == 0, clone.stderr
    checkout = subprocess.run(
        ["git", "checkout", "abc1234"], cwd=tmp_path / "0", capture_output=True, text=True
    )
    assert checkout.returncode != 0

    def create(*sources: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "startpoints", "create", f"oci:{tmp_path / 'out'}:x",
             "--languages", *sources],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    done = create(str(repo), f"abc1234@{url}")
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        "ERROR: git checkout abc1234", "--languages", *checkout.stderr.splitlines()
    ]  # fmt: skip
    assert done.stdout.splitlines() == [
        f"git clone {repo}", f"--languages \t {repo}", f"git clone {url}", "git checkout abc1234"
    ]  # fmt: skip

    gone = f"file://{tmp_path / 'gone'}"
    (tmp_path / "scratch").mkdir()
    tried = subprocess.run(
        ["git", "clone", "--single-branch", "--branch", "main", gone, "0"],
        cwd=tmp_path / "scratch", capture_output=True, text=True,
    )  # fmt: skip
    done = create(f"abc1234@{gone}")
    assert done.returncode == 3
    expected = ["ERROR: bad git clone <url>", f"--languages {gone}", *tried.stderr.splitlines()]
    assert done.stderr.splitlines() == expected
