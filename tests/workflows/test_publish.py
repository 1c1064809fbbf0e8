"""publish against a real registry (and an oci: layout): the contract of DESIGN.md §2."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from startpoints.core import reference
from startpoints.core.reference import Reference
from startpoints.errors import (
    GitError,
    InvalidStartPoint,
    NotFound,
    StartpointsError,
    StoreError,
    TagConflict,
    UnsafeContent,
)
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.stores import Stores
from startpoints.workflows import publish
from tests.conftest import FAST_RETRY, RepoFactory, git, push_language_image
from tests.servers import FaultyProxy, Registry


def request(repo: Path, image: Reference, **kwargs: object) -> publish.Request:
    return publish.Request(repo_dir=repo, image=image, **kwargs)  # type: ignore[arg-type]


def start_point_files(stores: Stores, ref: Reference) -> dict[str, bytes]:
    """The files inside a published start-point image's layer."""
    store = stores.for_ref(ref)
    data, _ = store.fetch_manifest(ref)
    manifest = json.loads(data)
    (layer,) = manifest["layers"]
    blob = store.fetch_blob(ref, Descriptor.from_json(layer))
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_publishes_start_point_image_tagged_sha7_with_image_name_rewritten(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    registry: Registry,
) -> None:
    repo = make_repo()
    sha = git(repo, "rev-parse", "HEAD")
    image = language_image("latest")

    result = publish.publish(request(repo, image), stores)

    sha7 = sha[:7]
    assert result.start_point.repository == f"cyberdojostartpoints/{image.last_path_part}"
    assert result.start_point.registry == registry.host
    assert result.start_point.tag == sha7
    assert str(result.language_image).startswith(f"{image.name}:{sha7}@sha256:")
    files = start_point_files(stores, result.start_point.with_tag(sha7))
    assert sorted(files) == [
        "start_point/cyber-dojo.sh",
        "start_point/hiker.py",
        "start_point/manifest.json",
        "start_point/red_amber_green.rb",
        "start_point/test_hiker.py",
    ]
    assert json.loads(files["start_point/manifest.json"])["image_name"] == f"{image.name}:{sha7}"
    assert registry.tags(image.repository) == sorted(["latest", sha7])


def test_annotations_and_config_make_a_real_oci_image(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores
) -> None:
    repo = make_repo()
    result = publish.publish(request(repo, language_image()), stores)
    store = stores.for_ref(result.start_point)
    data, descriptor = store.fetch_manifest(result.start_point)
    manifest = json.loads(data)
    assert descriptor.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    annotations = manifest["annotations"]
    assert annotations["org.opencontainers.image.revision"] == git(repo, "rev-parse", "HEAD")
    assert (
        annotations["org.opencontainers.image.source"]
        == "https://github.com/cyber-dojo-start-points/python-pytest"
    )
    assert annotations["org.opencontainers.image.created"] == "2026-06-20T12:00:00Z"
    assert annotations["org.cyber-dojo.start-point.language-image"] == str(result.language_image)
    config = json.loads(
        store.fetch_blob(result.start_point, Descriptor.from_json(manifest["config"]))
    )
    assert config["os"] == "linux" and config["architecture"] == "amd64"
    assert len(config["rootfs"]["diff_ids"]) == 1


def test_two_clones_of_one_commit_give_one_digest(
    make_repo: RepoFactory, language_image: Callable[..., Reference], tmp_path: Path, stores: Stores
) -> None:
    origin = make_repo()
    image = language_image()
    first = publish.publish(request(origin, image), stores)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(
        clone,
        "remote",
        "set-url",
        "origin",
        "https://github.com/cyber-dojo-start-points/python-pytest",
    )
    os.utime(clone / "start_point" / "hiker.py", (1, 1))  # other mtimes must not matter

    second = publish.publish(request(clone, image), stores)

    assert second.start_point == first.start_point
    assert second.already_published and second.blobs_uploaded == 0 and second.bytes_uploaded == 0


def test_republishing_uploads_no_blob(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    registry: Registry,
) -> None:
    repo = make_repo()
    image = language_image()
    cold = publish.publish(request(repo, image), stores)
    uploads = registry.blob_uploads()

    warm = publish.publish(request(repo, image), stores)

    assert cold.blobs_uploaded == 2 and cold.bytes_uploaded > 0
    assert warm.start_point == cold.start_point
    assert (warm.blobs_uploaded, warm.bytes_uploaded, warm.already_published) == (0, 0, True)
    assert registry.blob_uploads() == uploads


def test_tag_given_creates_sha7_tag_on_the_same_manifest_without_copying_blobs(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    registry: Registry,
) -> None:
    repo = make_repo()
    image = language_image("build-42")
    source_digest = stores.for_ref(image).resolve(image).digest  # type: ignore[union-attr]

    result = publish.publish(request(repo, image), stores)

    assert result.language_tag_created
    assert result.language_image.digest == source_digest
    sha7 = result.start_point.tag
    assert stores.for_ref(image).resolve(image.with_tag(sha7)).digest == source_digest  # type: ignore[arg-type,union-attr]
    assert "latest" not in registry.tags(image.repository)


def test_digest_given_creates_the_sha7_tag(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores
) -> None:
    repo = make_repo()
    image = language_image("v1")
    digest = stores.for_ref(image).resolve(image).digest  # type: ignore[union-attr]

    result = publish.publish(request(repo, image.at_digest(digest)), stores)

    assert result.language_image.digest == digest
    assert result.language_image.tag == git(repo, "rev-parse", "--short=7", "HEAD")


def test_name_alone_needs_the_sha7_tag_to_exist(
    make_repo: RepoFactory, registry: Registry, stores: Stores, unique: str
) -> None:
    repo = make_repo()
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")
    name = reference.parse(f"{registry.host}/cdl{unique}/java_junit")
    with pytest.raises(NotFound, match=rf"language image {name}:{sha7} not found"):
        publish.publish(request(repo, name), stores)
    push_language_image(stores, name.with_tag(sha7))

    result = publish.publish(request(repo, name), stores)

    assert not result.language_tag_created
    assert result.start_point.tag == sha7


def test_missing_language_image_is_named_and_nothing_is_pushed(
    make_repo: RepoFactory, registry: Registry, stores: Stores, unique: str
) -> None:
    repo = make_repo()
    image = reference.parse(f"{registry.host}/cdl{unique}/python_pytest:nope")
    with pytest.raises(NotFound, match=f"language image {image} not found"):
        publish.publish(request(repo, image), stores)
    assert registry.tags(f"cdl{unique}/python_pytest") == []
    assert registry.tags(f"cdl{unique}/cyberdojostartpoints/python_pytest") == []
    assert registry.tags("cyberdojostartpoints/python_pytest") == []


def test_sha7_tag_on_another_digest_is_refused(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores
) -> None:
    repo = make_repo()
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")
    language_image(sha7, content="old build")
    newer = language_image("latest", content="new build")
    before = stores.for_ref(newer).resolve(newer.with_tag(sha7))

    with pytest.raises(TagConflict, match=rf":{sha7} already names sha256:"):
        publish.publish(request(repo, newer), stores)

    assert stores.for_ref(newer).resolve(newer.with_tag(sha7)) == before


def test_different_content_under_an_existing_tag_is_refused_and_the_registry_unchanged(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    unique: str,
    registry: Registry,
) -> None:
    image = language_image()
    target = reference.parse(f"{registry.host}/cdsp{unique}/python_pytest")
    repo = make_repo()
    first = publish.publish(request(repo, image, startpoints_repo=target), stores)
    other = make_repo(
        name="other", edit=lambda sp: (sp / "hiker.py").write_text("def answer():\n    return 42\n")
    )
    other_sha7 = git(other, "rev-parse", "--short=7", "HEAD")
    store = stores.for_ref(target)
    # Put the first image under the other commit's sha7, as a careless earlier push might have.
    data, descriptor = store.fetch_manifest(first.start_point)
    store.push_manifest(target.with_tag(other_sha7), data, descriptor.media_type)

    with pytest.raises(TagConflict, match="tags are never overwritten"):
        publish.publish(request(other, image, startpoints_repo=target), stores)

    assert store.resolve(target.with_tag(other_sha7)).digest == first.start_point.digest  # type: ignore[union-attr]


def test_lint_problems_stop_publish_before_anything_is_pushed(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    registry: Registry,
    unique: str,
) -> None:
    def break_manifest(sp: Path) -> None:
        data = json.loads((sp / "manifest.json").read_text())
        data["max_seconds"] = 99
        data["visible_filenames"].append("missing.py")
        (sp / "manifest.json").write_text(json.dumps(data))

    repo = make_repo(edit=break_manifest)
    image = language_image("v2")
    target = reference.parse(f"{registry.host}/cdsp{unique}/python_pytest")

    with pytest.raises(InvalidStartPoint) as caught:
        publish.publish(request(repo, image, startpoints_repo=target), stores)

    reasons = [str(p) for p in caught.value.problems]
    assert any("max_seconds=99" in r for r in reasons)
    assert any("missing.py" in r and "does not exist" in r for r in reasons)
    assert registry.tags(target.repository) == []
    assert registry.tags(image.repository) == ["v2"]  # no sha7 tag either


def test_malformed_manifest_json_is_refused(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores
) -> None:
    repo = make_repo(edit=lambda sp: (sp / "manifest.json").write_text('{"display_name": "x",'))
    with pytest.raises(InvalidStartPoint) as caught:
        publish.publish(request(repo, language_image()), stores)
    assert "bad JSON" in str(caught.value.problems[0])


def test_not_a_git_repo(
    tmp_path: Path, language_image: Callable[..., Reference], stores: Stores
) -> None:
    shutil.copytree(Path(__file__).parents[2] / "examples" / "python-pytest", tmp_path / "plain")
    with pytest.raises(GitError, match="not a git repository"):
        publish.publish(request(tmp_path / "plain", language_image()), stores)


def test_no_start_point_folder(
    tmp_path: Path, language_image: Callable[..., Reference], stores: Stores
) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    (repo / "README.md").write_text("no start point here\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "x")
    with pytest.raises(StartpointsError, match="no start_point/ folder"):
        publish.publish(request(repo, language_image()), stores)


def test_symlink_leaving_start_point_is_refused(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    registry: Registry,
    unique: str,
) -> None:
    repo = make_repo(edit=lambda sp: (sp / "secrets").symlink_to("../../etc/passwd"))
    target = reference.parse(f"{registry.host}/cdsp{unique}/python_pytest")
    with pytest.raises(UnsafeContent, match="secrets"):
        publish.publish(request(repo, language_image(), startpoints_repo=target), stores)
    assert registry.tags(target.repository) == []


def test_sha_option_publishes_that_commit(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores
) -> None:
    repo = make_repo()
    first = git(repo, "rev-parse", "HEAD")
    (repo / "start_point" / "hiker.py").write_text("def global_answer():\n    return 42\n")
    git(repo, "commit", "-qam", "green")

    result = publish.publish(request(repo, language_image(), sha=first), stores)

    assert result.start_point.tag == first[:7]
    assert result.revision == first
    with pytest.raises(GitError, match="not a commit sha"):
        publish.publish(request(repo, language_image(), sha="main; rm -rf /"), stores)


def test_publishes_into_an_oci_layout(
    make_repo: RepoFactory, tmp_path: Path, stores: Stores
) -> None:
    layout = tmp_path / "layout"
    image = reference.parse(f"oci:{layout}:cyberdojofoundation/python_pytest:latest")
    push_language_image(stores, image)
    repo = make_repo()
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")

    result = publish.publish(request(repo, image), stores)

    assert str(result.start_point).startswith(
        f"oci:{layout}:cyberdojostartpoints/python_pytest:{sha7}@sha256:"
    )
    assert stores.for_ref(image).tags() == [  # type: ignore[attr-defined]
        f"cyberdojofoundation/python_pytest:{sha7}",
        "cyberdojofoundation/python_pytest:latest",
        f"cyberdojostartpoints/python_pytest:{sha7}",
    ]
    files = start_point_files(stores, result.start_point)
    assert (
        json.loads(files["start_point/manifest.json"])["image_name"]
        == f"cyberdojofoundation/python_pytest:{sha7}"
    )
    again = publish.publish(request(repo, image), Stores())
    assert again.start_point == result.start_point and again.blobs_uploaded == 0


def test_registry_down_is_a_clear_error(make_repo: RepoFactory, stores: Stores) -> None:
    from tests.servers import free_port

    image = reference.parse(f"127.0.0.1:{free_port()}/cdl/python_pytest:latest")
    with pytest.raises(StoreError, match=r": unreachable \(connection refused; 3 attempts\)$"):
        publish.publish(request(make_repo(), image), stores)


def test_transient_5xx_is_retried(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    registry: Registry,
    unique: str,
) -> None:
    image = language_image()
    failures = {"left": 2}

    def flaky(method: str, path: str) -> int | None:
        if method == "PUT" and "/blobs/uploads/" in path and failures["left"]:
            failures["left"] -= 1
            return 503
        return None

    proxy = FaultyProxy(registry.host, flaky)
    try:
        via_proxy = reference.parse(f"{proxy.host}/{image.repository}:{image.tag}")
        target = reference.parse(f"{proxy.host}/cdsp{unique}/python_pytest")
        result = publish.publish(
            request(make_repo(), via_proxy, startpoints_repo=target), Stores(retry=FAST_RETRY)
        )
    finally:
        proxy.close()
    assert failures["left"] == 0
    assert registry.tags(target.repository) == [result.start_point.tag]


def test_5xx_mid_push_leaves_no_tag(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    registry: Registry,
    unique: str,
) -> None:
    image = language_image("v3")

    def broken_manifest_put(method: str, path: str) -> int | None:
        return 500 if method == "PUT" and "/manifests/" in path and "cdsp" in path else None

    proxy = FaultyProxy(registry.host, broken_manifest_put)
    try:
        via_proxy = reference.parse(f"{proxy.host}/{image.repository}:{image.tag}")
        target = reference.parse(f"{proxy.host}/cdsp{unique}/python_pytest")
        with pytest.raises(StoreError, match=r"answered 500.*gave up after 3 attempts"):
            publish.publish(
                request(make_repo(), via_proxy, startpoints_repo=target), Stores(retry=FAST_RETRY)
            )
    finally:
        proxy.close()
    assert registry.tags(target.repository) == []
    assert registry.tags(image.repository) == ["v3"]


def test_a_tag_written_by_someone_else_meanwhile_is_left_as_it_is(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    registry: Registry,
    unique: str,
    stores: Stores,
) -> None:
    image = language_image("v4")
    repo = make_repo()
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")
    direct = reference.parse(f"{registry.host}/cdsp{unique}/python_pytest")

    def another_writer(method: str, path: str) -> int | None:
        if method == "PUT" and f"/cdsp{unique}/python_pytest/manifests/sha256:" in path:
            push_language_image(Stores(), direct.with_tag(sha7), content="someone else")
        return None

    proxy = FaultyProxy(registry.host, another_writer)
    try:
        via_proxy = reference.parse(f"{proxy.host}/{image.repository}:{image.tag}")
        target = reference.parse(f"{proxy.host}/cdsp{unique}/python_pytest")
        with pytest.raises(TagConflict, match="by someone else while publishing"):
            publish.publish(
                request(repo, via_proxy, startpoints_repo=target), Stores(retry=FAST_RETRY)
            )
    finally:
        proxy.close()
    theirs = stores.for_ref(direct).resolve(direct.with_tag(sha7))
    data, _ = stores.for_ref(direct).fetch_manifest(direct.with_tag(sha7))
    assert theirs is not None and json.loads(data)["annotations"] == {"test": "someone else"}


def test_a_work_tree_differing_from_the_commit_is_warned_about(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores
) -> None:
    repo = make_repo()
    said: list[str] = []
    publish.publish(request(repo, language_image()), stores, say=said.append)
    assert not [s for s in said if s.startswith("warning")]  # clean: nothing to warn about

    (repo / "start_point" / "hiker.py").write_text("edited, not committed\n")
    (repo / "start_point" / "new.py").write_text("untracked\n")
    (repo / "README.md").write_text("outside start_point/: not published, not warned about\n")
    said.clear()
    result = publish.publish(request(repo, language_image()), stores, say=said.append)
    (warning,) = [s for s in said if s.startswith("warning")]
    assert "start_point/hiker.py, start_point/new.py" in warning and "README" not in warning
    assert f"differs from {result.revision[:7]}" in warning and "not the work tree" in warning
    files = start_point_files(stores, result.start_point)
    assert b"edited" not in files["start_point/hiker.py"] and "start_point/new.py" not in files
