"""The Kubernetes DaemonSet and Service that serve a catalog and warm every node.

Two modes:
- `socket`: the web-facing container serves the API (`--pull none`) and holds no host
  path; a second container pulls through the node's CRI socket (hostPath) and has its own
  readiness, so the pod is Ready only once the node is warm.
- `kubelet`: no host path at all; one init container per language image, each running a
  trivial command, so kubelet itself pulls them (the z2jh way). Sequential per node, and
  the API starts only once every image is there.

Rollout: `maxSurge: 100%` with `maxUnavailable: 0`: every node starts its new pod beside the
old one, which keeps serving until the new one is Ready (warm); all nodes at once, never a
node without a serving pod. The Service keeps each client on one pod (ClientIP affinity).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from startpoints.core.catalog import PORTS

CATALOG = "/startpoints/catalog"
CRI_SOCKET = "/run/containerd/containerd.sock"
IMAGE_FS = "/var/lib/containerd"  # containerd's root: where its images land, for the budget
# Where other distributions keep them (`startpoints k8s --runtime-socket/--image-fs`).
RUNTIMES = {
    "containerd": (CRI_SOCKET, IMAGE_FS),
    "k3s": ("/run/k3s/containerd/containerd.sock", "/var/lib/rancher/k3s/agent/containerd"),
    "RKE2": ("/run/k3s/containerd/containerd.sock", "/var/lib/rancher/rke2/agent/containerd"),
    "CRI-O": ("/var/run/crio/crio.sock", "/var/lib/containers"),
}
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# a label key (an optional DNS-subdomain prefix and '/', then a name) and a label value
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}")
_VALUE = re.compile(rf"({_NAME})?")
# the node's own disk: the marker outlives the pod, and every puller of the node (an old
# pod's and a new one's, mid-rollout) shares the record of which catalog is newest
NODE_STATE = "/var/lib/startpoints"
PULLER_PORT = 4624  # the puller container's own readiness; not in the Service
USER = 10001
AFFINITY_SECONDS = 10800


def toleration(text: str) -> dict[str, str]:
    """`KEY[=VALUE]:EFFECT` as a pod's toleration; ValueError naming what is wrong."""
    taint, _, effect = text.rpartition(":")
    key, equals, value = taint.partition("=")
    if effect not in EFFECTS:
        raise ValueError(f"{text!r}: the effect must be one of {', '.join(EFFECTS)}")
    if not _KEY.fullmatch(key) or not _VALUE.fullmatch(value):
        raise ValueError(f"{text!r}: not KEY[=VALUE]:EFFECT with a taint's key and value")
    found = {"key": key, "operator": "Equal" if equals else "Exists", "effect": effect}
    return {**found, "value": value} if equals else found


def node_label(text: str) -> tuple[str, str]:
    """`KEY=VALUE` as one of a nodeSelector's labels; ValueError naming what is wrong."""
    key, equals, value = text.partition("=")
    if not equals or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value):
        raise ValueError(f"{text!r}: not KEY=VALUE with a node label's key and value")
    return key, value


def render(
    kind: str,
    image: str,
    *,
    mode: str = "socket",
    language_images: Sequence[str] = (),
    runtime_socket: str = CRI_SOCKET,
    image_fs: str = IMAGE_FS,
    tolerations: Sequence[Mapping[str, str]] = (),
    node_selector: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The DaemonSet and the Service, as Kubernetes objects. `runtime_socket` and `image_fs`:
    the node's CRI socket and its runtime's root (RUNTIMES); `tolerations` and
    `node_selector`: which nodes get a pod (those that run cyber-dojo's runner)."""
    if mode not in ("socket", "kubelet"):
        raise ValueError(f"mode {mode!r}: not socket or kubelet")
    for path in (runtime_socket, image_fs):
        if not path.startswith("/") or "\n" in path:
            raise ValueError(f"{path!r}: not an absolute path on the node")
    name = f"{kind}-start-points"
    port = PORTS.get(kind, 4524)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "cyber-dojo",
        "app.kubernetes.io/component": "start-points",
    }
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_api(image, port)],
        "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
    }
    if tolerations:
        pod["tolerations"] = [dict(t) for t in tolerations]
    if node_selector:
        pod["nodeSelector"] = dict(node_selector)
    if mode == "socket":
        pod["containers"].append(_puller(image, runtime_socket, image_fs))
        pod["volumes"].append(
            {"name": "cri-socket", "hostPath": {"path": runtime_socket, "type": "Socket"}}
        )
        pod["volumes"].append(
            {"name": "image-fs", "hostPath": {"path": image_fs, "type": "Directory"}}
        )
        pod["volumes"].append(
            {"name": "node-state", "hostPath": {"path": NODE_STATE, "type": "DirectoryOrCreate"}}
        )
    else:
        pod["initContainers"] = [
            _init_puller(i, language) for i, language in enumerate(sorted(set(language_images)))
        ]
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0},
            },
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
            # Mid-rollout old and new pods both serve: a client kept on one pod is not told a
            # name by one catalog and asked for it by the other. When its pod goes, the new
            # one still answers the old names (assemble --previous). 3 h is kube-proxy's default.
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": AFFINITY_SECONDS}},
        },
    }
    return [daemonset, service]


def _security(*, root: bool = False) -> dict[str, Any]:
    common = {
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    if root:
        # The CRI socket is root's; whoever holds it is root-equivalent anyway, which is why
        # only this container mounts it and nothing reaches it from outside the pod.
        return {"runAsUser": 0, "runAsNonRoot": False, **common}
    return {"runAsUser": USER, "runAsGroup": USER, "runAsNonRoot": True, **common}


def _probe(path: str, port: int | str, period: int, failures: int = 3) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 1,
        "failureThreshold": failures,
    }


def _api(image: str, port: int) -> dict[str, Any]:
    args = ["serve", CATALOG, "--port", str(port), "--pull", "none"]
    return _server("api", image, args, "http", port, ready_every=5, mounts=[], root=False)


def _puller(image: str, socket: str, image_fs: str) -> dict[str, Any]:
    args = [
        "serve",
        CATALOG,
        "--port",
        str(PULLER_PORT),
        "--pull",
        "cri",
        "--pull-endpoint",
        f"unix://{socket}",
    ]
    args += ["--pull-on", "start", "--recheck", "600", "--no-access-log"]
    # pull only what fits below kubelet's image-GC threshold (prepull/budget.py)
    args += ["--image-fs", image_fs]
    # the marker and the node's record beside it, on the node's disk (prepull/record.py)
    args += ["--marker", f"{NODE_STATE}/prepulled.json"]
    # not Ready until every language image is on this node: the pod is Ready only warm
    mounts: list[dict[str, Any]] = [
        {"name": "cri-socket", "mountPath": socket},
        {"name": "image-fs", "mountPath": image_fs, "readOnly": True},
        {"name": "node-state", "mountPath": NODE_STATE},
    ]
    puller = _server(
        "puller", image, args, "pull-status", PULLER_PORT, ready_every=10, mounts=mounts, root=True
    )
    # the node's name labels its /metrics gauges, so Prometheus shows which node lacks what
    puller["env"] = [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    ]
    return puller


def _server(
    name: str,
    image: str,
    args: list[str],
    port_name: str,
    port: int,
    *,
    ready_every: int,
    mounts: list[dict[str, Any]],
    root: bool,
) -> dict[str, Any]:
    """A container running `startpoints serve`: probes on its own port, hardened, bounded."""
    return {
        "name": name,
        "image": image,
        "args": args,
        "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
        # unpacking the catalog takes a moment at start; liveness waits for it
        "startupProbe": _probe("/alive", port_name, 1, failures=60),
        "livenessProbe": _probe("/alive", port_name, 10),
        "readinessProbe": _probe("/ready", port_name, ready_every),
        "resources": {
            "requests": {"cpu": "20m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": _security(root=root),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
    }


def _init_puller(index: int, language_image: str) -> dict[str, Any]:
    return {
        "name": f"pull-{index}",
        "image": language_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["true"],  # kubelet pulled the image to run this; nothing else to do
        "resources": {
            "requests": {"cpu": "1m", "memory": "4Mi"},
            "limits": {"cpu": "100m", "memory": "32Mi"},
        },
        "securityContext": _security(),
    }
