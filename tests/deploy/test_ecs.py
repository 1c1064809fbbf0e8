"""deploy/ecs: the task definition checked offline against the ECS API's own model (botocore's
RegisterTaskDefinition input shape and its parameter validator) and the limits ECS enforces,
its commands against startpoints' own parser, and the Terraform example parsed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ROOT

ECS = ROOT / "deploy" / "ecs"
# what ECS refuses beyond the model's types (its API reference, HealthCheck)
HEALTH_LIMITS = {
    "interval": (5, 300),
    "timeout": (2, 120),
    "retries": (1, 10),
    "startPeriod": (0, 300),
}


def task() -> dict[str, Any]:
    return dict(json.loads((ECS / "task-definition.json").read_text()))


def containers() -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in task()["containerDefinitions"]}


def validate(params: dict[str, Any]) -> str:
    """botocore's report on `params` as a RegisterTaskDefinition request ('' when valid)."""
    botocore = pytest.importorskip("botocore.session")
    from botocore.validate import ParamValidator

    model = botocore.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


def test_the_task_definition_is_what_the_ecs_api_accepts() -> None:
    assert validate(task()) == ""


def test_the_validator_would_see_a_bad_one() -> None:
    broken = task()
    broken["containerDefinitions"][0]["memory"] = "128"  # a string where ECS wants an integer
    del broken["family"]  # required
    report = validate(broken)
    assert "containerDefinitions[0].memory" in report and "family" in report


@pytest.mark.parametrize("name", ["languages-start-points", "languages-start-points-puller"])
def test_health_checks_are_within_what_ecs_enforces(name: str) -> None:
    check = containers()[name]["healthCheck"]
    for key, (low, high) in HEALTH_LIMITS.items():
        assert low <= check[key] <= high, (name, key, check[key])


def test_only_the_puller_holds_the_socket_and_the_web_container_is_small_and_hardened() -> None:
    found = containers()
    volumes = {v["name"]: v["host"]["sourcePath"] for v in task()["volumes"]}
    web, puller = found["languages-start-points"], found["languages-start-points-puller"]
    socket = [n for n, path in volumes.items() if path == "/var/run/docker.sock"]
    assert [m["sourceVolume"] for m in web["mountPoints"]] == ["tmp"]
    assert set(socket) <= {m["sourceVolume"] for m in puller["mountPoints"]}
    assert web["memory"] <= 128 and web["portMappings"][0]["containerPort"] == 4524
    for container in (web, puller):
        assert container["readonlyRootFilesystem"] and not container["user"].startswith("0")
        assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
    # a cold node pulls for many minutes: the puller's health must not stop the task
    assert web["essential"] and not puller["essential"]
    assert "STARTPOINTS_CREDENTIALS" in [s["name"] for s in puller["secrets"]]
    assert "portMappings" not in puller


@pytest.mark.parametrize("name", ["languages-start-points", "languages-start-points-puller"])
def test_each_command_is_what_startpoints_serve_accepts(name: str) -> None:
    from startpoints.cli.main import _parser

    command = containers()[name]["command"]
    args = _parser(command[:1]).parse_args(command)  # exits 2 on anything unknown
    assert args.run.__module__ == "startpoints.cli.serve"


def test_the_terraform_example_parses_and_sets_what_varies() -> None:
    hcl2 = pytest.importorskip("hcl2")
    parsed = hcl2.loads((ECS / "main.tf").read_text())
    variables = {name.strip('"') for block in parsed["variable"] for name in block}
    assert {"image", "port", "memory", "host_tmp", "node_state", "docker_gid",
            "credentials_secret_arn"} <= variables  # fmt: skip
    resources = {kind.strip('"'): body for r in parsed["resource"] for kind, body in r.items()}
    (definition,) = resources["aws_ecs_task_definition"].values()
    hosts = [v["host_path"] for v in definition["volume"]]
    assert "/var/run/docker.sock" in str(hosts) and "var.host_tmp" in str(hosts)
    assert "task-definition.json" in (ECS / "main.tf").read_text()
