"""From a language repo's commit to a warm node, with no step edited by hand: a new commit →
its CI step `publish`es → `update` pins it → `assemble` makes the new catalog → `serve --pull`
on it pre-pulls the new language image and, with eviction on, removes the superseded one →
`/start_points` shows the new revision. Real registry, git daemon and a real Docker Engine (Debian's dockerd); every
step is the startpoints command a CI job or a node runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import docker

from startpoints.core.reference import parse
from startpoints.oci.stores import Stores
from tests.cli.test_serve_cli import get
from tests.conftest import RepoFactory, git, push_language_image
from tests.servers import Dockerd, GitDaemon, Registry, free_port, wait_until


def startpoints(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", *args], capture_output=True, text=True
    )
    assert done.returncode == 0, f"startpoints {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def language_ci(repo: Path, registry: Registry, unique: str, url: str, content: str) -> str:
    """What a language repo's CI does on a commit: build and push its language image (a
    stand-in here), then `startpoints publish`. Returns the start-point image."""
    image = f"{registry.host}/lang{unique}/python_pytest:latest"
    push_language_image(Stores(), parse(image), content=content)
    own = f"{registry.host}/sp{unique}/python_pytest"  # this test's own, not the shared default
    done = startpoints(
        "publish", str(repo), "--image", image, "--source", url, "--startpoints-repo", own
    )
    return done.splitlines()[-1]


def serve_until_warm(
    catalog: Path, dockerd: Dockerd, tmp_path: Path, evict: bool = True
) -> dict[str, Any]:
    """`serve --pull docker [--evict-superseded]` until /ready is 200 and superseded images
    are reviewed; its /status and /start_points then."""
    port = free_port()
    # at once, for the test: a node keeps them 30 days by default, for the katas made on them
    evicting = ["--evict-superseded", "--keep-superseded", "0s"] if evict else []
    process = subprocess.Popen(
        [sys.executable, "-m", "startpoints", "serve", str(catalog), "--host", "127.0.0.1",
         "--port", str(port), "--pull", "docker", "--pull-endpoint", dockerd.url,
         "--pull-on", "start", *evicting, "--marker", str(tmp_path / "marker.json"),
         "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until(lambda: _ready(port), "the node warm", deadline=60)
        # eviction follows readiness, on the same pull thread: poll for its report
        wait_until(lambda: bool(get(port, "/status")[1]["superseded"]), "superseded reviewed")
        return {"status": get(port, "/status")[1], "start_points": get(port, "/start_points")[1]}
    finally:
        process.terminate()
        process.wait(timeout=10)


def _ready(port: int) -> bool:
    try:
        return get(port, "/ready?")[0] == 200
    except OSError:
        return False


def test_a_commit_reaches_a_warm_node_with_no_step_edited_by_hand(
    make_repo: RepoFactory,
    daemon: GitDaemon,
    registry: Registry,
    dockerd: Dockerd,
    unique: str,
    tmp_path: Path,
) -> None:
    repo = make_repo()
    url = f"{daemon.url}/python-pytest.git"
    git(daemon.base, "init", "-q", "--bare", "python-pytest.git")
    git(repo, "push", "-q", str(daemon.base / "python-pytest.git"), "main")
    first = language_ci(repo, registry, unique, url, "python 1")
    listed = tmp_path / "start-points.txt"
    listed.write_text(f"# the languages\n{first}\n")

    def release(name: str) -> Path:
        """What the languages repo's CI does: update the list, assemble the catalog."""
        startpoints("update", str(listed))
        startpoints("assemble", "--from", str(listed), "--output", str(tmp_path / name))
        return tmp_path / name

    v1 = serve_until_warm(release("v1"), dockerd, tmp_path)
    (old,) = v1["start_points"]["start_points"]

    # a new commit in the language repo, and its CI
    (repo / "start_point" / "cyber-dojo.sh").write_text("python -m pytest -q\n")
    git(repo, "commit", "-qam", "pytest quietly")
    git(repo, "push", "-q", str(daemon.base / "python-pytest.git"), "main")
    language_ci(repo, registry, unique, url, "python 2")
    new_sha = git(repo, "rev-parse", "HEAD")

    assert (
        subprocess.run(
            [sys.executable, "-m", "startpoints", "update", str(listed), "--check"],
            capture_output=True,
        ).returncode
        == 1
    )  # behind: CI would open the pull request
    catalog_v2 = release("v2")
    body = startpoints("diff", str(tmp_path / "v1"), str(catalog_v2), "--markdown")
    assert body.startswith("**0 added, 0 removed, 1 changed**")
    assert f"`{old['revision'][:7]}` → `{new_sha[:7]}`" in body  # the pull request's body
    # a rollout without eviction, then a rollback: the old catalog served again finds its
    # images still on the node, and pulls nothing
    serve_until_warm(catalog_v2, dockerd, tmp_path, evict=False)
    back = serve_until_warm(tmp_path / "v1", dockerd, tmp_path, evict=False)
    assert [s["attempts"] for s in back["status"]["images"].values()] == [0]
    assert [e["image"] for e in back["status"]["superseded"]["images"]] == [
        f"{parse(old['image_name']).name}:{new_sha[:7]}"
    ]  # the newer catalog's image, listed, kept

    v2 = serve_until_warm(catalog_v2, dockerd, tmp_path)
    (new,) = v2["start_points"]["start_points"]

    assert new["revision"] == new_sha != old["revision"]
    assert new["image_name"].endswith(f":{new_sha[:7]}")
    engine = docker.DockerClient(base_url=dockerd.url)
    assert engine.images.get(new["image_name"])
    evicted = v2["status"]["superseded"]["images"]
    assert [(e["image"], e["state"]) for e in evicted] == [(old["image_name"], "removed")]
    assert not engine.images.list(name=old["image_name"])
    assert f"{new['start_point_image']}@{new['start_point_digest']}" in listed.read_text()
