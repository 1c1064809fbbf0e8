"""cyber-dojo's own runner (../shared/cyberdojo/runner, under Debian's ruby and puma) on the
node the pre-pull warms, a real dockerd: it lists `docker image ls` once at start and runs each
kata by the tag its manifest names, pulling lazily (answering "pulling") what it has not seen.

After the pre-pull, a kata runs at once, with no pull. After a new catalog supersedes the
image, a kata created on the old image still runs through the grace period; and once the old
image is evicted, the runner's start-up inventory still names it, so `docker run` pulls it
back by itself: a slower first run, not a failure."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from startpoints.core.reference import parse
from startpoints.oci import read
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.runtime import EngineRuntime
from startpoints.oci.stores import Stores
from startpoints.prepull.puller import Puller
from startpoints.prepull.record import NodeRecord
from tests.conftest import CYBERDOJO
from tests.servers import Dockerd, Registry, free_port, wait_until

RUNNER = CYBERDOJO / "runner" / "source" / "server"
GREEN = "lambda { |stdout, stderr, status| status.to_s == '0' ? 'green' : 'red' }"


def language_image(service_image: str, image: str, version: str) -> str:
    """A language image as the runner needs one (bash, tar, gzip, find, coreutils, a
    /home/sandbox the sandbox user owns): the service image's Debian layers, a layer adding
    /home/sandbox for uid 41966, and `version` in its labels; pushed as `image`, its digest."""
    source, target, stores = parse(service_image), parse(image), Stores()
    into, out_of = stores.for_ref(target), stores.for_ref(source)
    manifest, _ = read.image_manifest(out_of, source, stores.limits)
    config = read.image_config(out_of, source, manifest, stores.limits)
    for layer in read.layer_descriptors(manifest, source):
        into.push_blob(target, layer, out_of.fetch_blob(source, layer))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in ("home", "home/sandbox"):
            entry = tarfile.TarInfo(name)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
            entry.uid, entry.gid = (41966, 51966) if name.endswith("sandbox") else (0, 0)
            tar.addfile(entry)
    packed = gzip.compress(raw.getvalue(), mtime=0)
    sandbox = Descriptor(manifest["layers"][0]["mediaType"],  # the same kind as the others
                         "sha256:" + hashlib.sha256(packed).hexdigest(), len(packed))  # fmt: skip
    into.push_blob(target, sandbox, packed)
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw.getvalue()).hexdigest())
    env = [e for e in config["config"].get("Env") or [] if not e.startswith("HOME=")]
    config["config"] = {**config["config"], "Entrypoint": None, "Cmd": ["bash"],
                        "Env": [*env, "HOME=/home/sandbox"],  # as the sandbox user's home
                        "Labels": {"version": version}}  # fmt: skip
    data = json.dumps(config).encode()
    blob = Descriptor(
        manifest["config"]["mediaType"], "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
    )
    into.push_blob(target, blob, data)
    manifest = {
        **manifest,
        "config": blob.to_json(),
        "layers": [*manifest["layers"], sandbox.to_json()],
    }
    pushed = into.push_manifest(target, json.dumps(manifest).encode(), manifest["mediaType"])
    return pushed.digest


@pytest.fixture
def runner(dockerd: Dockerd, tmp_path: Path) -> Iterator[Any]:
    """Starts cyber-dojo's runner on the test dockerd; call it to (re)start."""
    if not all(shutil.which(tool) for tool in ("ruby", "puma")) or not RUNNER.is_dir():
        pytest.skip("needs Debian's ruby, puma, ruby-rack, ruby-concurrent and ../shared")
    started: list[subprocess.Popen[bytes]] = []
    port = free_port()

    def stop(process: subprocess.Popen[bytes]) -> None:
        """up.sh's bash and the puma it starts, with puma's workers: the whole group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def start() -> int:
        for process in started:
            stop(process)
        env = {**os.environ, "PATH": "/usr/bin:/bin", "DOCKER_HOST": dockerd.url,
               "DOCKER_CONFIG": str(tmp_path / "docker"), "CYBER_DOJO_RUNNER_PORT": str(port)}  # fmt: skip
        log = open(tmp_path / "runner.log", "ab")  # noqa: SIM115 - owned by the process
        started.append(subprocess.Popen(["bash", str(RUNNER / "config" / "up.sh")], cwd=RUNNER,
                                        env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True))  # fmt: skip
        wait_until(lambda: _alive(port), "cyber-dojo's runner answering", deadline=60)
        return port

    yield start
    for process in started:
        stop(process)


def _alive(port: int) -> bool:
    try:
        return bool(call(port, "/alive", {}).get("alive?"))
    except OSError:
        return False


def call(port: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        return dict(json.loads(answer.read()))


def kata(port: int, image: str) -> dict[str, Any]:
    """One test run of a kata created on `image`, as cyber-dojo's web asks the runner."""
    manifest = {"image_name": image, "max_seconds": 10, "rag_lambda": GREEN}
    files = {"cyber-dojo.sh": "echo hello from $(cat /etc/debian_version)"}
    result = call(
        port, "/run_cyber_dojo_sh", {"id": "a1b2c3", "files": files, "manifest": manifest}
    )
    return dict(result["run_cyber_dojo_sh"])


def blob_gets(registry: Registry, repository: str) -> int:
    return sum(f"GET /v2/{repository}/blobs/" in line for line in registry.log_text().splitlines())


def test_a_kata_runs_with_no_pull_on_a_warm_node_and_old_katas_run_on(
    service_image: str, registry: Registry, dockerd: Dockerd, runner: Any, unique: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    repository = f"runner{unique}/bash"
    v1, v2 = f"{registry.host}/{repository}:1111111", f"{registry.host}/{repository}:2222222"
    digests = {
        v1: language_image(service_image, v1, "1"),
        v2: language_image(service_image, v2, "2"),
    }
    node = EngineRuntime(dockerd.url, None)
    record = NodeRecord(tmp_path / "node.json")

    def catalog(image: str, keep: float) -> Puller:
        return Puller([image], node, identity=image, digests=digests, record=record, attempts=1,
                      evict=True, keep_superseded=keep)  # fmt: skip

    assert catalog(v1, keep=3600).run_once()  # the pre-pull warms the node with v1
    port = runner()  # the runner starts, and lists the node's images once
    before = blob_gets(registry, repository)
    result = kata(port, v1)
    assert result["outcome"] == "green", result
    assert result["stdout"]["content"].startswith("hello from 12")
    assert blob_gets(registry, repository) == before  # no pull: the runner found it present

    # a new catalog, v2: warm for new katas; v1 kept for last week's katas (the grace period)
    assert catalog(v2, keep=3600).run_once()
    assert kata(port, v2)["outcome"] == "pulling"  # the runner had not listed v2: it pulls...
    wait_until(lambda: kata(port, v2)["outcome"] == "green", "v2 runs", deadline=60)
    assert kata(port, v1)["outcome"] == "green"  # ...and the old kata runs on, as it was

    # the grace period over, v1 is evicted; the runner's inventory still names it, so its
    # next run is `docker run v1`, which pulls v1 back by itself: slower, still green
    evicting = catalog(v2, keep=0)
    assert evicting.run_once() and node.held(v1) is None
    assert kata(port, v1)["outcome"] == "green"
    assert node.held(v1) is not None and blob_gets(registry, repository) > before
