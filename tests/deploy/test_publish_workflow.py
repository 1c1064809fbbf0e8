"""The reusable workflow's own steps, run for real by bash against a real registry: what a
start-points repository's CI does, with GitHub's variables set as Actions sets them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from startpoints.core.reference import Reference
from tests.conftest import RepoFactory, git, pinned_to
from tests.servers import Registry

WORKFLOW = Path(__file__).parents[2] / ".github" / "workflows" / "publish-start-point.yml"


def run_steps(repo: Path, inputs: dict[str, str], github: dict[str, str], tmp: Path) -> str:
    """Run the publish job's lint and publish steps in `repo` (the install step pip-installs a
    release from GitHub: here startpoints is this tree); returns the step outputs written."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "startpoints"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m startpoints "$@"\n')
    wrapper.chmod(0o755)
    outputs = tmp / "github_output"
    outputs.write_text("")
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["publish"]
    ran = []
    for step in job["steps"]:
        if step.get("name") not in ("lint start_point/", "publish"):
            continue
        env = {
            **os.environ,
            **github,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(outputs),
            "HOME": str(tmp),
            "DOCKER_CONFIG": str(tmp / ".docker"),
        }
        for name, value in step.get("env", {}).items():  # ${{ inputs.x }} as Actions fills it
            key = str(value).removeprefix("${{ inputs.").removesuffix(" }}")
            env[name] = inputs.get(key, "")
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{step['name']}: {done.stdout}{done.stderr}"
        ran.append(step["name"])
    assert ran == ["lint start_point/", "publish"]
    return outputs.read_text()


def test_a_start_points_repository_publishes_to_its_own_package_with_no_image_given(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    registry: Registry,
    unique: str,
    tmp_path: Path,
) -> None:
    pinned = language_image("7aa5992")

    repo = make_repo(edit=pinned_to(str(pinned)))
    sha = git(repo, "rev-parse", "HEAD")
    github = {
        "GITHUB_REPOSITORY": f"Cyber-Dojo-Start-Points{unique}/Python-Pytest",
        "GITHUB_SHA": sha,
        "GITHUB_SERVER_URL": "https://github.com",
    }
    defaults = {
        name: str(spec.get("default", ""))
        for name, spec in yaml.safe_load(WORKFLOW.read_text())[True]["workflow_call"][
            "inputs"
        ].items()
    }

    written = run_steps(repo, {**defaults, "registry": registry.host}, github, tmp_path)

    own = f"cyber-dojo-start-points{unique}/python-pytest"  # GITHUB_REPOSITORY, lower case
    assert registry.tags(own) == [sha[:7]]
    assert registry.tags(pinned.repository) == ["7aa5992"]
    (line,) = written.splitlines()
    assert line.startswith(f"image={registry.host}/{own}:{sha[:7]}@sha256:")
