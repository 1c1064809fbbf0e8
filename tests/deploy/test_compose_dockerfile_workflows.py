"""The compose file, the Dockerfile and the GitHub workflows, checked as files."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import yaml
from dockerfile_parse import DockerfileParser

from tests.conftest import ROOT


def test_compose_keeps_the_socket_in_the_puller_only() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services: dict[str, Any] = compose["services"]
    api, puller = services["languages-start-points"], services["languages-start-points-puller"]
    for service in (api, puller):
        assert service["read_only"] is True and service["user"] == "10001:10001"
        assert service["restart"] == "on-failure" and service["init"] is True
        assert any(t.startswith("/tmp") for t in service["tmpfs"])
        assert "/ready" in " ".join(service["healthcheck"]["test"])
        assert service["cap_drop"] == ["ALL"]
    assert (
        "volumes" not in api
        and "--pull" in api["command"]
        and api["command"][api["command"].index("--pull") + 1] == "none"
    )
    assert puller["volumes"] == ["/var/run/docker.sock:/var/run/docker.sock"]
    assert puller["command"][puller["command"].index("--pull") + 1] == "docker"
    assert "ports" not in puller


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
        and trigger["workflow_call"]["inputs"]["image"]["required"] is True
    )
    steps = " ".join(str(s.get("run", "")) for s in reusable["jobs"]["publish"]["steps"])
    assert "startpoints lint start_point" in steps and "publish ." in steps and "--sha" in steps
    catalog = yaml.safe_load(files[1].read_text())
    runs = " ".join(str(s.get("run", "")) for s in catalog["jobs"]["assemble"]["steps"])
    assert "startpoints assemble --from start-points.txt" in runs and "--tag" in runs


def test_no_deploy_default_names_a_latest_image() -> None:
    # The project promises there is no :latest; a default naming one would pull whatever moved.
    for path in sorted((ROOT / "deploy").rglob("*.y*ml")):
        text = path.read_text()
        assert ":latest" not in text and "newTag: latest" not in text, path
