"""Kubernetes manifests: valid against the Kubernetes schemas offline, and the rules held."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from startpoints.deploy import k8s
from tests.conftest import EXAMPLES, ROOT

DEPLOY = ROOT / "deploy" / "k8s"


def validate(path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def containers(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    (daemonset,) = [o for o in objects if o["kind"] == "DaemonSet"]
    return {c["name"]: c for c in daemonset["spec"]["template"]["spec"]["containers"]}


def test_every_yaml_under_deploy_k8s_is_valid() -> None:
    files = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert [p.name for p in files] == ["daemonset.yaml", "service.yaml"]
    for path in files:
        validate(path)
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == ["daemonset.yaml", "service.yaml"]


def test_the_static_base_is_what_the_renderer_makes() -> None:
    rendered = k8s.render("languages", "cyberdojo/languages-start-points", mode="socket")
    assert yaml.safe_load((DEPLOY / "daemonset.yaml").read_text()) == rendered[0]
    assert yaml.safe_load((DEPLOY / "service.yaml").read_text()) == rendered[1]


@pytest.mark.parametrize("mode", ["socket", "kubelet"])
def test_startpoints_k8s_renderings_are_valid(mode: str, tmp_path: Path) -> None:
    out = tmp_path / f"{mode}.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "k8s", str(EXAMPLES), "--image", "ghcr.io/cyber-dojo/languages-start-points:abc1234", "--mode", mode],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out.write_text(done.stdout)
    validate(out)
    objects = list(yaml.safe_load_all(done.stdout))
    assert [o["kind"] for o in objects] == ["DaemonSet", "Service"]


def test_socket_mode_keeps_the_socket_out_of_the_web_facing_container() -> None:
    objects = k8s.render("languages", "img:1", mode="socket")
    api, puller = containers(objects)["api"], containers(objects)["puller"]
    assert "--pull" in api["args"] and api["args"][api["args"].index("--pull") + 1] == "none"
    assert [m["name"] for m in api["volumeMounts"]] == ["tmp"]
    assert {m["name"] for m in puller["volumeMounts"]} == {
        "tmp", "cri-socket", "image-fs", "node-state"
    }  # fmt: skip
    (state,) = [m for m in puller["volumeMounts"] if m["name"] == "node-state"]
    marker = puller["args"][puller["args"].index("--marker") + 1]
    assert marker.startswith(state["mountPath"] + "/")  # the record beside it: on the node
    (image_fs,) = [m for m in puller["volumeMounts"] if m["name"] == "image-fs"]
    assert image_fs["readOnly"] is True
    assert puller["args"][puller["args"].index("--image-fs") + 1] == image_fs["mountPath"]
    assert puller["args"][puller["args"].index("--pull") + 1] == "cri"
    assert puller["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert (
        api["readinessProbe"]["httpGet"]["path"] == "/ready"
        and api["livenessProbe"]["httpGet"]["path"] == "/alive"
    )
    service = objects[1]
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 4524, "targetPort": "http", "protocol": "TCP"}
    ]
    assert "pull-status" not in str(service)
    # a client stays on one pod while old and new serve side by side mid-rollout
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    assert service["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] > 0


def test_kubelet_mode_mounts_no_host_path_and_pulls_each_image_in_an_init_container() -> None:
    images = [
        "ghcr.io/cdl/java_junit:4edf92a",
        "ghcr.io/cdl/python_pytest:1a2b3c4",
        "ghcr.io/cdl/java_junit:4edf92a",
    ]
    objects = k8s.render("languages", "img:1", mode="kubelet", language_images=images)
    pod = objects[0]["spec"]["template"]["spec"]
    assert "hostPath" not in str(pod)
    assert [c["image"] for c in pod["initContainers"]] == [
        "ghcr.io/cdl/java_junit:4edf92a",
        "ghcr.io/cdl/python_pytest:1a2b3c4",
    ]
    assert all(
        c["command"] == ["true"] and c["imagePullPolicy"] == "IfNotPresent"
        for c in pod["initContainers"]
    )
    assert list(containers(objects)) == ["api"]


@pytest.mark.parametrize("mode", ["socket", "kubelet"])
def test_hardening_resources_and_rollout(mode: str) -> None:
    objects = k8s.render("exercises", "img:1", mode=mode, language_images=["a/b:1"])
    daemonset = objects[0]
    assert daemonset["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0},
    }
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod.get("initContainers", []):
        security = container["securityContext"]
        assert (
            security["readOnlyRootFilesystem"] is True
            and security["allowPrivilegeEscalation"] is False
        )
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["requests"] and container["resources"]["limits"]
        if container["name"] != "puller":
            assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert objects[1]["spec"]["ports"][0]["port"] == 4525  # exercises


def test_a_folder_catalog_needs_an_image(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "k8s", str(EXAMPLES)], capture_output=True, text=True
    )
    assert done.returncode == 1 and "give --image" in done.stderr


def _layout_catalog(tmp_path: Path, with_base: bool) -> str:
    from startpoints.core.reference import parse
    from startpoints.oci import image, layer, write
    from startpoints.oci.stores import Stores
    from startpoints.workflows import assemble

    stores = Stores()
    base_ref = None
    if with_base:
        tree = tmp_path / "service"
        (tree / "bin").mkdir(parents=True)
        (tree / "bin" / "startpoints").write_text("#!/bin/sh\n")
        built = image.build(
            [layer.from_dir(tree, "usr/local")], created="2026-01-01T00:00:00Z", annotations={}
        )
        config = json.loads(built.blobs[0].data)
        config["config"].update(Entrypoint=["startpoints"], Cmd=["serve", "/startpoints/catalog"])
        base_ref = parse(f"oci:{tmp_path / 'layout'}:svc/startpoints:1")
        base = image.Base(
            config=config, layers=(built.blobs[1].descriptor,), name=str(base_ref), digest=""
        )
        store = stores.for_ref(base_ref)
        store.push_blob(base_ref, built.blobs[1].descriptor, built.blobs[1].data)
        write.write(
            store,
            base_ref,
            image.build([], created="2026-01-01T00:00:00Z", annotations={}, base=base),
        )
    tag = parse(f"oci:{tmp_path / 'layout'}:cdl/languages:{'based' if with_base else 'data'}")
    request = assemble.Request(sources=[str(EXAMPLES / "bash-bats")], tag=tag, base=base_ref)
    assemble.assemble(request, stores)
    return str(tag)


@pytest.mark.parametrize("with_base", [False, True])
def test_k8s_refuses_a_catalog_image_whose_pods_would_not_start(
    tmp_path: Path, with_base: bool
) -> None:
    catalog = _layout_catalog(tmp_path, with_base)
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "k8s", catalog], capture_output=True, text=True
    )
    if with_base:
        assert done.returncode == 0, done.stderr
        assert "kind: DaemonSet" in done.stdout
    else:
        assert done.returncode == 1
        assert "has no entrypoint" in done.stderr and "--base" in done.stderr
        assert done.stdout == ""


def versions() -> list[str]:
    from kubernetes_validate import utils

    known = sorted(set(utils.all_versions()), key=lambda v: tuple(int(x) for x in v.split(".")))
    return [known[0], known[-1]]


@pytest.mark.parametrize("version", versions())
def test_any_distribution_socket_tolerations_and_node_selector_render_valid(
    version: str, tmp_path: Path
) -> None:
    """k3s' socket and image store, a control-plane taint tolerated, a dedicated pool's taint
    by value, and only the runner's nodes: valid at the oldest and newest Kubernetes the
    validator knows, and each used where it must be."""
    socket, image_fs = k8s.RUNTIMES["k3s"]
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "k8s", str(EXAMPLES), "--image", "ghcr.io/cyber-dojo/languages-start-points:abc1234",
         "--runtime-socket", socket, "--image-fs", image_fs,
         "--toleration", "node-role.kubernetes.io/control-plane:NoSchedule",
         "--toleration", "dedicated=cyber-dojo:NoExecute", "--node-selector", "cyber-dojo.org/runner=true"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = tmp_path / "k3s.yaml"
    out.write_text(done.stdout)
    checked = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", version, str(out)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    pod = next(yaml.safe_load_all(done.stdout))["spec"]["template"]["spec"]
    assert pod["tolerations"] == [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "effect": "NoExecute", "value": "cyber-dojo"},
    ]  # fmt: skip
    assert pod["nodeSelector"] == {"cyber-dojo.org/runner": "true"}
    paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert paths["cri-socket"] == socket and paths["image-fs"] == image_fs
    puller = {c["name"]: c for c in pod["containers"]}["puller"]
    assert f"unix://{socket}" in puller["args"] and image_fs in puller["args"]
    mounts = {m["name"]: m["mountPath"] for m in puller["volumeMounts"]}
    assert mounts["cri-socket"] == socket and mounts["image-fs"] == image_fs


@pytest.mark.parametrize(
    ("option", "text", "says"),
    [
        ("--toleration", "dedicated=cyber-dojo", "the effect must be one of"),
        ("--toleration", "dedicated:NoWhere", "the effect must be one of"),
        ("--toleration", "bad key!:NoSchedule", "not KEY[=VALUE]:EFFECT"),
        ("--node-selector", "runner", "not KEY=VALUE"),
        ("--node-selector", "runner=no way", "not KEY=VALUE"),
        ("--runtime-socket", "run/containerd.sock", "not an absolute path"),
    ],
)
def test_a_bad_placement_option_is_refused_by_name(option: str, text: str, says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "k8s", str(EXAMPLES), "--image", "x/y:abc1234", option, text],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert says in done.stderr and (text in done.stderr or option == "--runtime-socket")
    assert "Traceback" not in done.stderr


def test_without_placement_options_the_pods_go_everywhere_untainted() -> None:
    pod = k8s.render("languages", "img:1")[0]["spec"]["template"]["spec"]
    assert "tolerations" not in pod and "nodeSelector" not in pod
