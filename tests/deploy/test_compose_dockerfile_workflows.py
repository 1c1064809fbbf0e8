"""The compose file, the Dockerfile and the GitHub workflows, checked as files."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml
from dockerfile_parse import DockerfileParser

from tests.conftest import ROOT


def test_dockerfile_non_root_tini_healthcheck_sha() -> None:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    instructions = [(i["instruction"], i["value"]) for i in parser.structure]
    kinds = [k for k, _ in instructions]
    assert parser.baseimage.startswith("python:3.11-slim")
    user = next(v for k, v in instructions if k == "USER")
    assert not user.startswith(("0", "root"))
    assert ("ARG", "SHA=unknown") in instructions
    assert any(k == "ENV" and "SHA=${SHA}" in v for k, v in instructions)
    assert "HEALTHCHECK" in kinds and "/ready" in next(
        v for k, v in instructions if k == "HEALTHCHECK"
    )
    entrypoint = next(v for k, v in instructions if k == "ENTRYPOINT")
    assert "tini" in entrypoint and "startpoints" in entrypoint
    assert next(v for k, v in instructions if k == "CMD") == '["serve", "/startpoints/catalog"]'
    assert kinds.index("USER") > max(
        i for i, k in enumerate(kinds) if k == "RUN"
    )  # nothing runs as root after


def test_github_workflows_are_valid_and_run_startpoints() -> None:
    files = [
        ROOT / ".github" / "workflows" / "publish-start-point.yml",
        ROOT / "deploy" / "ci" / "languages-start-points.yml",
        ROOT / ".github" / "workflows" / "release.yml",
        ROOT / "deploy" / "ci" / "languages-start-points-update.yml",
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    reusable = yaml.safe_load(files[0].read_text())
    trigger = reusable[True] if True in reusable else reusable["on"]  # YAML 1.1 reads `on` as true
    assert (
        "workflow_call" in trigger
        and trigger["workflow_call"]["inputs"]["image"]["required"] is False
    )
    steps = " ".join(str(s.get("run", "")) for s in reusable["jobs"]["publish"]["steps"])
    assert "startpoints lint start_point" in steps and "publish ." in steps and "--sha" in steps
    catalog = yaml.safe_load(files[1].read_text())
    runs = " ".join(str(s.get("run", "")) for s in catalog["jobs"]["assemble"]["steps"])
    assert "startpoints assemble --from start-points.txt" in runs and "--tag" in runs
    update = yaml.safe_load(files[3].read_text())
    trigger = update[True] if True in update else update["on"]
    assert "schedule" in trigger
    steps = update["jobs"]["update"]["steps"]
    runs = " ".join(str(s.get("run", "")) for s in steps)
    assert "startpoints update start-points.txt" in runs
    assert "startpoints diff" in runs and "--markdown" in runs
    (opened,) = [s for s in steps if str(s.get("uses", "")).startswith("peter-evans/create-pull")]
    assert opened["with"]["body-path"].endswith("body.md") and "changed == 'true'" in opened["if"]


INSTALL = re.compile(r"startpoints @ git\+https://github\.com/cyber-dojo/startpoints@(v[0-9.]+)")


def test_workflows_install_startpoints_from_this_release_tag() -> None:
    # `pip install startpoints` names nothing published: each workflow installs this repository
    # at the tag of this version, which the release workflow requires to match pyproject.toml.
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for path in [
        ROOT / ".github" / "workflows" / "publish-start-point.yml",
        ROOT / "deploy" / "ci" / "languages-start-points.yml",
        ROOT / "deploy" / "ci" / "languages-start-points-update.yml",
    ]:
        text = path.read_text()
        assert INSTALL.findall(text) == [f"v{version}"], path
        assert "pip install startpoints\n" not in text
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert '"v$version"' in release and ":latest" not in release


def test_pip_installs_startpoints_from_the_repository_at_a_tag(tmp_path: Path) -> None:
    """The install form the workflows use, for real: pip builds startpoints from a git URL at
    a tag (a local clone stands in for GitHub)."""
    clone = tmp_path / "startpoints"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "tag", "v0.0.0-test"], check=True)
    done = subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--wheel-dir", str(tmp_path / "wheels"),
            f"startpoints @ git+file://localhost{clone}@v0.0.0-test",  # a host: older pips need one
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "wheels").glob("startpoints-*.whl")
    with zipfile.ZipFile(wheel) as built:
        names = built.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "startpoints = startpoints.cli.main:main" in built.read(entry_points).decode()
    assert (
        "startpoints/py.typed" in names
        and "startpoints/oci/cri_api/cri_image_service_pb2.py" in names
    )


def test_no_deploy_default_names_a_latest_image() -> None:
    # The project promises there is no :latest; a default naming one would pull whatever moved.
    for path in sorted((ROOT / "deploy").rglob("*.y*ml")):
        text = path.read_text()
        assert ":latest" not in text and "newTag: latest" not in text, path
