"""The reusable workflow's own steps, run for real by bash against a real registry: what a
start-points repository's CI does, with GitHub's variables set as Actions sets them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from startpoints.core.reference import Reference
from tests.conftest import RepoFactory, git, pinned_to
from tests.deploy.workflow import run_steps
from tests.servers import Registry

WORKFLOW = Path(__file__).parents[2] / ".github" / "workflows" / "publish-start-point.yml"


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
    declared = yaml.safe_load(WORKFLOW.read_text())[True]["workflow_call"]["inputs"]
    inputs = {name: str(spec.get("default", "")) for name, spec in declared.items()}
    inputs["registry"] = registry.host

    steps = ["lint start_point/", "publish"]
    written = run_steps(WORKFLOW, "publish", steps, repo, {"inputs": inputs}, github, tmp_path)

    own = f"cyber-dojo-start-points{unique}/python-pytest"  # GITHUB_REPOSITORY, lower case
    assert registry.tags(own) == [sha[:7]]
    assert registry.tags(pinned.repository) == ["7aa5992"]
    (line,) = written["output"].splitlines()
    assert line.startswith(f"image={registry.host}/{own}:{sha[:7]}@sha256:")
