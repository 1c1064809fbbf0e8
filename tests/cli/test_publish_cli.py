"""`startpoints publish` driven as a command, the way a language repo's CI runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from startpoints.core.reference import Reference
from tests.conftest import RepoFactory, git, pinned_to
from tests.servers import Registry


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")}
    return subprocess.run(
        [sys.executable, "-m", "startpoints", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_last_stdout_line_is_the_pinned_start_point_image(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    registry: Registry,
    tmp_path: Path,
) -> None:
    repo = make_repo()
    image = language_image("latest")
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")

    done = run("publish", str(repo), "--image", str(image), home=tmp_path)

    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    pattern = rf"{re.escape(registry.host)}/cyberdojostartpoints/{image.last_path_part}:{sha7}@sha256:[0-9a-f]{{64}}"
    assert re.fullmatch(pattern, last)
    assert done.stdout.count("\n") == 1  # progress goes to stderr

    again = run("publish", str(repo), "--image", str(image), "--json", home=tmp_path)
    assert again.returncode == 0, again.stderr
    summary_line, reference_line = again.stdout.splitlines()
    assert reference_line == last
    summary = json.loads(summary_line)
    assert summary["already_published"] is True and summary["bytes_uploaded"] == 0
    assert summary["start_point_image"] == last
    assert summary["revision"] == git(repo, "rev-parse", "HEAD")


def test_errors_are_one_clear_line_and_exit_1(
    make_repo: RepoFactory, registry: Registry, tmp_path: Path
) -> None:
    repo = make_repo()
    cases = {
        ("--image", "Not/Valid"): 'parsing reference "Not/Valid"',
        (
            "--image",
            f"{registry.host}/cdl/none:x",
        ): f"language image {registry.host}/cdl/none:x not found",
        (
            "--image",
            f"{registry.host}/cdl/a:x",
            "--startpoints-repo",
            f"{registry.host}/s/a:t",
        ): "give a repository only",
    }
    for args, message in cases.items():
        done = run("publish", str(repo), *args, home=tmp_path)
        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.strip().splitlines()[-1].startswith("startpoints: error: ")
        assert message in done.stderr


def test_lint_problems_are_each_listed(
    make_repo: RepoFactory, language_image: Callable[..., Reference], tmp_path: Path
) -> None:
    def spoil(sp: Path) -> None:
        data = json.loads((sp / "manifest.json").read_text())
        data.update(tab_size=10, display_name="")
        (sp / "manifest.json").write_text(json.dumps(data))

    done = run(
        "publish", str(make_repo(edit=spoil)), "--image", str(language_image()), home=tmp_path
    )
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert any('display_name="": cannot be empty' in line for line in lines)
    assert any("tab_size=10: must be an integer from 1 to 8" in line for line in lines)
    assert lines[-1].endswith("2 problems; nothing published")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    done = run("publish", home=tmp_path)
    assert done.returncode == 2 and "REPO_DIR" in done.stderr
    done = run("publish", str(tmp_path), "--image", home=tmp_path)
    assert done.returncode == 2 and "--image" in done.stderr


def test_without_image_the_pinned_image_name_is_kept_and_a_latest_one_refused(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    registry: Registry,
    unique: str,
    tmp_path: Path,
) -> None:
    """cyber-dojo's two repositories per language, as the start-points repository's CI runs it."""
    pinned = language_image("7aa5992")
    target = f"{registry.host}/cyber-dojo-start-points{unique}/python-pytest"

    repo = make_repo(edit=pinned_to(str(pinned)))
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")
    done = run("publish", str(repo), "--startpoints-repo", target, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"{re.escape(target)}:{sha7}@sha256:[0-9a-f]{{64}}", done.stdout.strip())

    floating = make_repo(
        name="floating", edit=pinned_to(pinned.with_tag("latest").name + ":latest")
    )
    refused = run("publish", str(floating), "--startpoints-repo", target, home=tmp_path)
    assert refused.returncode != 0 and refused.stdout == ""
    assert "image_name" in refused.stderr and "not latest or no tag" in refused.stderr
    assert registry.tags(target.split("/", 1)[1]) == [sha7]
