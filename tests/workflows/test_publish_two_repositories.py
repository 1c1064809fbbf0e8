"""publish without --image: cyber-dojo's two repositories per language, against a real registry.

The language repository tags its image with its own sha7; the start-points repository's
manifest.json already names that tag. publish keeps image_name as committed, checks the tag
exists, and pushes only `<startpoints-repo>:<this repo's sha7>`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from startpoints.core import reference
from startpoints.core.reference import Reference
from startpoints.errors import NotFound, StartpointsError
from startpoints.oci.stores import Stores
from startpoints.workflows import publish
from tests.conftest import RepoFactory, git, pinned_to
from tests.servers import Registry
from tests.workflows.test_publish import start_point_files


@pytest.fixture
def startpoints_repo(registry: Registry, unique: str) -> Reference:
    return reference.parse(f"{registry.host}/cyber-dojo-start-points{unique}/python-pytest")


def test_image_name_is_kept_as_pinned_and_only_the_start_point_is_tagged(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    startpoints_repo: Reference,
    stores: Stores,
    registry: Registry,
) -> None:
    pinned = language_image("7aa5992")  # the language repository's own sha7
    repo = make_repo(edit=pinned_to(str(pinned)))
    committed = (repo / "start_point" / "manifest.json").read_bytes()
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")
    digest = stores.for_ref(pinned).resolve(pinned).digest  # type: ignore[union-attr]

    result = publish.publish(
        publish.Request(repo_dir=repo, startpoints_repo=startpoints_repo), stores
    )

    assert result.start_point == startpoints_repo.with_tag(sha7).with_digest(
        result.start_point.digest  # type: ignore[arg-type]
    )
    assert result.language_image == pinned.with_digest(digest)
    assert not result.language_tag_created
    files = start_point_files(stores, result.start_point)
    assert files["start_point/manifest.json"] == committed  # byte for byte, as committed
    assert registry.tags(pinned.repository) == ["7aa5992"]  # nothing tagged there
    assert registry.tags(startpoints_repo.repository) == [sha7]
    data, _ = stores.for_ref(result.start_point).fetch_manifest(result.start_point)
    annotations = json.loads(data)["annotations"]
    assert annotations["org.cyber-dojo.start-point.language-image"] == f"{pinned}@{digest}"
    assert annotations["org.opencontainers.image.revision"] == git(repo, "rev-parse", "HEAD")

    again = publish.publish(
        publish.Request(repo_dir=repo, startpoints_repo=startpoints_repo), stores
    )
    assert again.already_published and again.start_point == result.start_point


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        (":latest", "not latest or no tag"),
        ("", "not latest or no tag"),
        ("@sha256:" + "a" * 64, "not latest or no tag"),
    ],
)
def test_an_image_name_not_pinned_to_a_tag_is_refused_by_name_and_nothing_pushed(
    tag: str,
    why: str,
    make_repo: RepoFactory,
    registry: Registry,
    startpoints_repo: Reference,
    stores: Stores,
    unique: str,
) -> None:
    name = f"{registry.host}/cdl{unique}/python_pytest{tag}"
    repo = make_repo(edit=pinned_to(name))
    with pytest.raises(StartpointsError, match=f"image_name '{name}'.*{why}; nothing published"):
        publish.publish(publish.Request(repo_dir=repo, startpoints_repo=startpoints_repo), stores)
    assert registry.tags(startpoints_repo.repository) == []


def test_an_image_name_whose_tag_is_not_in_its_registry_is_refused_and_nothing_pushed(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    registry: Registry,
    startpoints_repo: Reference,
    stores: Stores,
) -> None:
    other = language_image("1111111").with_tag("2222222")  # the repository exists, the tag not
    repo = make_repo(edit=pinned_to(str(other)))
    with pytest.raises(NotFound, match=f"image_name '{other}': no such tag in its registry"):
        publish.publish(publish.Request(repo_dir=repo, startpoints_repo=startpoints_repo), stores)
    assert registry.tags(startpoints_repo.repository) == []
    assert registry.tags(other.repository) == ["1111111"]
