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
node without a serving pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from startpoints.core.catalog import PORTS

CATALOG = "/startpoints/catalog"
CRI_SOCKET = "/run/containerd/containerd.sock"
IMAGE_FS = "/var/lib/containerd"  # containerd's root: where its images land, for the budget
# the node's own disk: the marker outlives the pod, and every puller of the node (an old
# pod's and a new one's, mid-rollout) shares the record of which catalog is newest
NODE_STATE = "/var/lib/startpoints"
PULLER_PORT = 4624  # the puller container's own readiness; not in the Service
USER = 10001


def render(
    kind: str, image: str, *, mode: str = "socket", language_images: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The DaemonSet and the Service, as Kubernetes objects."""
    if mode not in ("socket", "kubelet"):
        raise ValueError(f"mode {mode!r}: not socket or kubelet")
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
    if mode == "socket":
        pod["containers"].append(_puller(image))
        pod["volumes"].append(
            {"name": "cri-socket", "hostPath": {"path": CRI_SOCKET, "type": "Socket"}}
        )
        pod["volumes"].append(
            {"name": "image-fs", "hostPath": {"path": IMAGE_FS, "type": "Directory"}}
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


def _puller(image: str) -> dict[str, Any]:
    args = [
        "serve",
        CATALOG,
        "--port",
        str(PULLER_PORT),
        "--pull",
        "cri",
        "--pull-endpoint",
        f"unix://{CRI_SOCKET}",
    ]
    args += ["--pull-on", "start", "--recheck", "600", "--no-access-log"]
    # pull only what fits below kubelet's image-GC threshold (prepull/budget.py)
    args += ["--image-fs", IMAGE_FS]
    # the marker and the node's record beside it, on the node's disk (prepull/record.py)
    args += ["--marker", f"{NODE_STATE}/prepulled.json"]
    # not Ready until every language image is on this node: the pod is Ready only warm
    mounts: list[dict[str, Any]] = [
        {"name": "cri-socket", "mountPath": CRI_SOCKET},
        {"name": "image-fs", "mountPath": IMAGE_FS, "readOnly": True},
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
