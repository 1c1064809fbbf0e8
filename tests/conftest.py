"""Shared fixtures: a real registry on loopback, git repos made from examples/, language images."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from startpoints.core import reference
from startpoints.core.backoff import Backoff
from startpoints.core.reference import Reference
from startpoints.oci import image, layer, write
from startpoints.oci.stores import Stores
from tests.servers import Containerd, Dockerd, GitDaemon, Podman, Registry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# The workplace's shared folder beside the checkout; a clone elsewhere is told where it is.
SHARED = Path(os.environ.get("STARTPOINTS_SHARED") or ROOT.parent / "shared")
CORPUS = SHARED / "corpus"
CYBERDOJO = SHARED / "cyberdojo"
FAST_RETRY = Backoff(first=0.05, cap=0.2, attempts=3)

# CI runs the same generated examples every time (a red CI names a change, not a draw); a
# local run draws new ones and keeps what failed in .hypothesis/, so new faults are found there.
settings.register_profile("ci", derandomize=True, database=None)
if profile := os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else None):
    settings.load_profile(profile)
COMMIT_DATE = "2026-06-20T12:00:00+00:00"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = Registry(tmp_path_factory.mktemp("registry")).start()
    yield server
    server.stop()


@pytest.fixture
def stores() -> Stores:
    return Stores(retry=FAST_RETRY)


@pytest.fixture
def unique() -> str:
    """A fresh name part, so tests sharing one registry never see each other's tags."""
    return uuid.uuid4().hex[:10]


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Hiker",
        "GIT_AUTHOR_EMAIL": "hiker@example.com",
        "GIT_COMMITTER_NAME": "Hiker",
        "GIT_COMMITTER_EMAIL": "hiker@example.com",
        "GIT_AUTHOR_DATE": COMMIT_DATE,
        "GIT_COMMITTER_DATE": COMMIT_DATE,
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


RepoFactory = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> RepoFactory:
    """A git repo holding examples/<example>/start_point, committed at a fixed time."""

    def make(
        example: str = "python-pytest",
        name: str = "repo",
        edit: Callable[[Path], None] | None = None,
    ) -> Path:
        repo = tmp_path / name
        shutil.copytree(EXAMPLES / example, repo)
        if edit is not None:
            edit(repo / "start_point")
        git(repo, "init", "-q", "-b", "main")
        git(
            repo, "remote", "add", "origin", f"https://github.com/cyber-dojo-start-points/{example}"
        )
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "start point")
        return repo

    return make


def minimal_start_point(folder: Path, display_name: str, image_name: str) -> Path:
    """A languages start point with one file, naming `image_name`: for tests about images."""
    folder.mkdir(parents=True)
    (folder / "cyber-dojo.sh").write_text("true\n")
    manifest = {
        "display_name": display_name,
        "image_name": image_name,
        "visible_filenames": ["cyber-dojo.sh"],
        "filename_extension": ".x",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def pinned_to(image_name: str) -> Callable[[Path], None]:
    """A make_repo edit: manifest.json's image_name set to `image_name`, as cyber-dojo's
    start-points repositories pin it to their language repository's tag."""

    def edit(start_point: Path) -> None:
        file = start_point / "manifest.json"
        file.write_text(json.dumps({**json.loads(file.read_text()), "image_name": image_name}))

    return edit


def push_language_image(stores: Stores, ref: Reference, content: str = "runtime") -> str:
    """A small stand-in for a language image (one layer), pushed as `ref`; returns its digest."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "readme.txt").write_text(content)
        packed = layer.from_dir(Path(tmp), "usr/local/share/language")
    built = image.build([packed], created="2026-01-01T00:00:00Z", annotations={"test": content})
    return write.write(stores.for_ref(ref), ref, built).descriptor.digest


@pytest.fixture
def language_image(registry: Registry, stores: Stores, unique: str) -> Callable[..., Reference]:
    def make(tag: str = "latest", content: str = "runtime") -> Reference:
        ref = reference.parse(f"{registry.host}/cdl/python_pytest_{unique}:{tag}")
        push_language_image(stores, ref, content)
        return ref

    return make


def buildah_push(context: Path, destination: str, work: Path) -> None:
    """Build `context`'s Dockerfile with buildah (rootless-style vfs storage under `work`) and
    push it to `destination` (`docker://HOST/REPO:TAG` or `oci:PATH:NAME`)."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (Debian package buildah)")
    storage = [
        "--root",
        str(work / "root"),
        "--runroot",
        str(work / "runroot"),
        "--storage-driver",
        "vfs",
    ]
    env = {**os.environ, "BUILDAH_ISOLATION": "chroot"}
    subprocess.run(
        [
            "buildah",
            *storage,
            "bud",
            "--isolation",
            "chroot",
            "-q",
            "-t",
            "localhost/built:1",
            str(context),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run(
        ["buildah", *storage, "push", "--tls-verify=false", "localhost/built:1", destination],
        check=True,
        capture_output=True,
        env=env,
    )


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Podman]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (Debian package podman)")
    service = Podman(
        tmp_path_factory.mktemp("podman"), insecure_registries=(registry.host,)
    ).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def containerd(
    tmp_path_factory: pytest.TempPathFactory, registry: Registry
) -> Iterator[Containerd]:
    if shutil.which("containerd") is None:
        pytest.skip("containerd is not installed (Debian package containerd)")
    service = Containerd(
        tmp_path_factory.mktemp("containerd"), plain_http_registries=(registry.host,)
    ).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    """A real Docker Engine (Debian's docker.io), as on cyber-dojo's production node."""
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed (Debian package docker.io)")
    engine = Dockerd(tmp_path_factory.mktemp("dockerd")).start()
    yield engine
    engine.stop()


@pytest.fixture(params=["dockerd", "podman"])
def engine(request: pytest.FixtureRequest) -> Dockerd | Podman:
    """Each Docker Engine API in turn: Docker's own, then podman's compatible one."""
    return request.getfixturevalue(str(request.param))  # type: ignore[no-any-return]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    """A git daemon serving the bare repos a test puts under its `base`."""
    (tmp_path / "served").mkdir()
    server = GitDaemon(tmp_path / "served").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def service_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`make image`'s script builds the service image into an OCI layout, once a session;
    its reference."""
    import sys

    missing = [tool for tool in ("buildah", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian packages buildah, mmdebstrap)")
    work = tmp_path_factory.mktemp("service-image")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "BUILDAH_ROOT": str(work / "buildah"),
        "TAG": "localhost/startpoints:under-test",
    }
    built = subprocess.run(
        [str(ROOT / "scripts/service-image.sh"), f"oci:{work / 'service'}:startpoints:test"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return f"oci:{work / 'service'}:startpoints:test"
