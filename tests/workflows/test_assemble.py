"""assemble: any mix of sources → one checked catalog, as a folder and as an image."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from startpoints.core.reference import Reference, parse
from startpoints.errors import InvalidStartPoint, StartpointsError
from startpoints.oci.descriptor import Descriptor
from startpoints.oci.stores import Stores
from startpoints.sources.image import ImageSource
from startpoints.workflows import assemble, publish
from tests.conftest import EXAMPLES, FAST_RETRY, RepoFactory, buildah_push, git
from tests.servers import GitDaemon, Registry


def buildah_start_point(example: str, destination: str, tmp_path: Path) -> None:
    context = tmp_path / f"context-{example}"
    shutil.copytree(EXAMPLES / example / "start_point", context / "start_point")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY start_point/ /start_point/\n")
    buildah_push(context, destination, tmp_path / "buildah")


def names(output: Path) -> list[str]:
    index = json.loads((output / "catalog.json").read_text())
    return [e["display_name"] for e in index["start_points"]]


def test_images_from_buildah_a_git_commit_and_a_folder_in_one_catalog(
    registry: Registry,
    make_repo: RepoFactory,
    daemon: GitDaemon,
    stores: Stores,
    unique: str,
    tmp_path: Path,
) -> None:
    built = f"{registry.host}/cdsp{unique}/bash_bats:1a2b3c4"
    buildah_start_point("bash-bats", f"docker://{built}", tmp_path)
    repo = make_repo()
    git(daemon.base, "clone", "-q", "--bare", str(repo), "python-pytest.git")
    sha7 = git(repo, "rev-parse", "--short=7", "HEAD")
    exercise = tmp_path / "exercise-free-languages"
    shutil.copytree(EXAMPLES / "python-pytest", exercise)
    manifest = json.loads((exercise / "start_point" / "manifest.json").read_text())
    manifest.update(display_name="Python 3.12, unittest", test_framework=["unittest", ""])
    (exercise / "start_point" / "manifest.json").write_text(json.dumps(manifest))
    output = tmp_path / "catalog"

    result = assemble.assemble(
        assemble.Request(
            sources=[built, f"{sha7}@{daemon.url}/python-pytest.git", str(exercise)],
            output=output,
            tag=parse(f"{registry.host}/cdl{unique}/languages:v1"),
        ),
        stores,
    )

    assert names(output) == [
        "Bash 5.2, bats 1.11",
        "Python 3.12, pytest 8.3",
        "Python 3.12, unittest",
    ]
    index = json.loads((output / "catalog.json").read_text())
    kinds = [(e["index"], e["source_kind"]) for e in index["start_points"]]
    assert kinds == [(0, "image"), (1, "git"), (2, "dir")]
    assert index["start_points"][0]["start_point_digest"].startswith("sha256:")
    assert index["start_points"][1]["revision"] == git(repo, "rev-parse", "HEAD")
    assert sorted(p.name for p in output.iterdir()) == ["0", "1", "2", "catalog.json"]
    assert result.image is not None and result.image.digest
    # the pushed image holds the same catalog, labelled with its kind
    catalog_image = ImageSource(str(result.image), result.image)
    store = stores.for_ref(result.image)
    data, _ = store.fetch_manifest(result.image)
    config = json.loads(
        store.fetch_blob(result.image, Descriptor.from_json(json.loads(data)["config"]))
    )
    assert config["config"]["Labels"]["org.cyber-dojo.start-point"] == "languages"
    assert catalog_image.ref.tag == "v1"
    # served back the same from the folder and from the pushed image
    from startpoints.core import served
    from startpoints.workflows import serve

    from_folder, from_image = served.load(output), serve.open_catalog(str(result.image), stores)
    assert (
        from_folder.manifests == from_image.manifests
        and from_folder.start_points == from_image.start_points
    )
    assert from_folder.names == ["Bash, bats", "Python, pytest", "Python, unittest"]


def test_a_catalog_on_a_base_image_keeps_its_entrypoint_and_runs_on_its_own_catalog(
    registry: Registry, stores: Stores, unique: str, tmp_path: Path
) -> None:
    from startpoints.oci import image, layer, write
    from startpoints.workflows import serve

    tree = tmp_path / "service"
    (tree / "app").mkdir(parents=True)
    (tree / "app" / "startpoints").write_text("#!/bin/sh\n")
    base_ref = parse(f"{registry.host}/svc{unique}/startpoints:1")
    base_built = image.build(
        [layer.from_dir(tree, "usr/local/bin")], created="2026-01-01T00:00:00Z", annotations={}
    )
    config = json.loads(base_built.blobs[0].data)
    config["config"].update(
        Entrypoint=["/usr/bin/tini", "--", "startpoints"],
        Cmd=["serve", "/startpoints/catalog"],
        Env=["PORT=9999", "SHA=abc"],
        User="10001:10001",
    )
    base = image.Base(
        config=config, layers=(base_built.blobs[1].descriptor,), name=str(base_ref), digest=""
    )
    rebuilt = image.build([], created="2026-01-01T00:00:00Z", annotations={}, base=base)
    store = stores.for_ref(base_ref)
    store.push_blob(base_ref, base_built.blobs[1].descriptor, base_built.blobs[1].data)
    write.write(store, base_ref, rebuilt)

    result = assemble.assemble(
        assemble.Request(
            sources=[str(EXAMPLES / "bash-bats")],
            kind="languages",
            base=base_ref,
            tag=parse(f"{registry.host}/cdl{unique}/cat:v1"),
        ),
        stores,
    )
    assert result.image is not None
    data, _ = stores.for_ref(result.image).fetch_manifest(result.image)
    manifest = json.loads(data)
    catalog_config = json.loads(
        stores.for_ref(result.image).fetch_blob(
            result.image, Descriptor.from_json(manifest["config"])
        )
    )["config"]
    assert catalog_config["Entrypoint"] == [
        "/usr/bin/tini",
        "--",
        "startpoints",
    ] and catalog_config["Cmd"] == ["serve", "/startpoints/catalog"]
    assert catalog_config["User"] == "10001:10001"
    assert sorted(catalog_config["Env"]) == ["PORT=4524", "SHA=abc"]
    assert (
        manifest["layers"][0]["digest"] == base_built.blobs[1].descriptor.digest
        and len(manifest["layers"]) == 2
    )
    assert manifest["annotations"]["org.opencontainers.image.base.name"] == str(base_ref)
    # the catalog lands where the base image's CMD looks for it
    assert serve.open_catalog(str(result.image), stores).names == ["Bash, bats"]


def test_the_same_sources_give_the_same_catalog_image_digest(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    registry: Registry,
    unique: str,
) -> None:
    published = publish.publish(
        publish.Request(repo_dir=make_repo(), image=language_image()), stores
    )
    tag = parse(f"{registry.host}/cdl{unique}/languages:v1")
    first = assemble.assemble(
        assemble.Request(sources=[str(published.start_point)], tag=tag), stores
    )
    second = assemble.assemble(
        assemble.Request(sources=[str(published.start_point)], tag=tag.with_tag("v2")), stores
    )
    assert first.image is not None and second.image is not None
    assert first.image.digest == second.image.digest


def test_an_oci_layout_from_buildah_and_from_file(tmp_path: Path, stores: Stores) -> None:
    buildah_start_point(
        "python-pytest", f"oci:{tmp_path / 'layout'}:cdsp/python_pytest:1a2b3c4", tmp_path
    )
    listing = tmp_path / "start-points.txt"
    listing.write_text(
        f"# the catalog\n\noci:{tmp_path / 'layout'}:cdsp/python_pytest:1a2b3c4  # built by buildah\n{EXAMPLES / 'bash-bats'}\n"
    )
    from startpoints.cli.main import main

    assert main(["assemble", "--from", str(listing), "--output", str(tmp_path / "out")]) == 0
    assert names(tmp_path / "out") == ["Python 3.12, pytest 8.3", "Bash 5.2, bats 1.11"]


def test_any_problem_writes_and_pushes_nothing(
    registry: Registry, stores: Stores, unique: str, tmp_path: Path
) -> None:
    output = tmp_path / "catalog"
    assemble.assemble(
        assemble.Request(sources=[str(EXAMPLES / "bash-bats")], output=output), stores
    )
    before = sorted(p.relative_to(output).as_posix() for p in output.rglob("*"))
    tag = parse(f"{registry.host}/cdl{unique}/languages:v1")

    with pytest.raises(InvalidStartPoint) as caught:
        assemble.assemble(
            assemble.Request(
                sources=[
                    str(EXAMPLES / "python-pytest"),
                    str(EXAMPLES / "python-pytest" / "start_point"),
                ],
                output=output,
                tag=tag,
            ),
            stores,
        )

    assert all("is not unique in the catalog" in str(p) for p in caught.value.problems)
    assert sorted(p.relative_to(output).as_posix() for p in output.rglob("*")) == before
    assert registry.tags(f"cdl{unique}/languages") == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".startpoints-")]


@pytest.mark.parametrize(
    ("sources", "reason"),
    [
        (["ghcr.io/cdsp/java_junit:latest"], ":latest moves"),
        (["ghcr.io/cdsp/java_junit"], "needs a tag or a digest"),
        ([str(EXAMPLES / "bash-bats"), str(EXAMPLES / "bash-bats")], "is given more than once"),
        (["not a source at all"], "no such folder, and not a sha7@git-url or an image reference"),
        (["/no/such/folder"], "/no/such/folder: no such folder"),
    ],
)
def test_bad_sources_are_refused_before_any_fetch(
    sources: list[str], reason: str, stores: Stores
) -> None:
    with pytest.raises(InvalidStartPoint) as caught:
        assemble.assemble(assemble.Request(sources=sources), stores)
    assert any(reason in str(p) for p in caught.value.problems)


def test_no_sources() -> None:
    with pytest.raises(StartpointsError, match="no sources"):
        assemble.assemble(assemble.Request(sources=[]), Stores())


def test_a_bad_source_names_itself(
    registry: Registry, stores: Stores, unique: str, tmp_path: Path
) -> None:
    missing = f"{registry.host}/cdsp{unique}/nothing:1a2b3c4"
    with pytest.raises(InvalidStartPoint) as caught:
        assemble.assemble(
            assemble.Request(
                sources=[missing, str(EXAMPLES / "bash-bats")], output=tmp_path / "out"
            ),
            stores,
        )
    assert [str(p) for p in caught.value.problems] == [
        f"{missing}: cannot be fetched: {missing}: manifest not found in {registry.host}"
    ]
    assert not (tmp_path / "out").exists()


def test_the_registry_stopping_mid_assemble_leaves_the_output_untouched(
    make_repo: RepoFactory, language_image: Callable[..., Reference], tmp_path: Path, unique: str
) -> None:
    own = Registry(tmp_path / "own-registry").start()
    try:
        stores = Stores(retry=FAST_RETRY)
        image = parse(f"{own.host}/cdl/python_pytest_{unique}:ci")
        from tests.conftest import push_language_image

        push_language_image(stores, image)
        published = publish.publish(publish.Request(repo_dir=make_repo(), image=image), stores)
        output = tmp_path / "catalog"
        assemble.assemble(
            assemble.Request(sources=[str(published.start_point)], output=output), stores
        )
        before = (output / "catalog.json").read_text()
    finally:
        own.stop()
    with pytest.raises(InvalidStartPoint) as caught:
        assemble.assemble(
            assemble.Request(
                sources=[str(published.start_point), str(EXAMPLES / "bash-bats")], output=output
            ),
            Stores(retry=FAST_RETRY),
        )
    assert "unreachable" in str(caught.value.problems[0])
    assert (output / "catalog.json").read_text() == before


def test_verify_images_records_digests_and_sizes_and_refuses_missing_ones(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores, tmp_path: Path
) -> None:
    image = language_image()
    published = publish.publish(publish.Request(repo_dir=make_repo(), image=image), stores)
    result = assemble.assemble(
        assemble.Request(sources=[str(published.start_point)], images="verify"), stores
    )
    assert result.start_points[0]["image_digest"] == published.language_image.digest
    # what a node fetches: the config and every layer, compressed
    store = stores.for_ref(image)
    manifest = json.loads(store.fetch_manifest(image)[0])
    fetched = manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
    assert result.start_points[0]["image_size"] == fetched

    with pytest.raises(InvalidStartPoint) as caught:
        assemble.assemble(
            assemble.Request(
                sources=[str(published.start_point), str(EXAMPLES / "bash-bats")],
                images="verify",
            ),
            Stores(retry=FAST_RETRY),
        )
    assert any("image_name" in str(p) for p in caught.value.problems)


def test_by_default_images_are_recorded_where_their_registry_answers_and_warned_of_elsewhere(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores
) -> None:
    """bash-bats names an image on ghcr.io, which this closed machine cannot reach: a warning
    naming it, no size, and the catalog is still made; a missing image is still refused."""
    published = publish.publish(
        publish.Request(repo_dir=make_repo(), image=language_image()), stores
    )
    said: list[str] = []
    result = assemble.assemble(
        assemble.Request(
            sources=[str(published.start_point), str(EXAMPLES / "bash-bats")], images="auto"
        ),
        Stores(retry=FAST_RETRY),
        say=said.append,
    )
    sizes = {sp["display_name"]: sp.get("image_size") for sp in result.start_points}
    assert sorted(sizes.values(), key=lambda v: v is None)[0] > 0
    assert None in sizes.values()
    (warning,) = [line for line in said if "unreachable" in line]
    assert warning.startswith("warning: ghcr.io: unreachable (")
    assert warning.endswith("; 1 attempt): its images' digests and sizes are not recorded")

    missing = make_repo(
        name="missing",
        edit=lambda sp: _set_image_name(sp, f"{published.language_image.name}:nosuchtag"),
    )
    with pytest.raises(InvalidStartPoint, match="1 problem in the catalog"):
        assemble.assemble(assemble.Request(sources=[str(missing)], images="auto"), stores)


def test_a_registry_that_refuses_is_one_warning_and_a_hold_not_a_failure(
    tmp_path: Path, unique: str
) -> None:
    """GHCR's private packages without a login: the registry answers 401 "denied". By default
    that is one warning naming the registry, the catalog is still made and the registry is not
    asked for its other images; --verify-images refuses each image by name."""
    from tests.conftest import minimal_start_point, push_language_image
    from tests.servers import TokenRegistry

    private = TokenRegistry(tmp_path / "private", "hiker", "t0ken").start()
    try:
        login = tmp_path / "login.json"
        login.write_text(json.dumps({"auths": {private.host: {"auth": "aGlrZXI6dDBrZW4="}}}))
        names = [f"{private.host}/cdl{unique}/lang_{i}:1111111" for i in range(12)]
        for i, name in enumerate(names):
            push_language_image(Stores(docker_config=login), parse(name), content=str(i))
            minimal_start_point(tmp_path / "sources" / str(i), f"Lang {i}", name)
        sources = [str(tmp_path / "sources" / str(i)) for i in range(12)]
        asked = private.manifest_requests()
        said: list[str] = []
        anonymous = Stores(docker_config=tmp_path / "none.json", retry=FAST_RETRY)

        result = assemble.assemble(
            assemble.Request(sources=sources, images="auto"), anonymous, say=said.append
        )

        assert len(result.start_points) == 12
        assert all(sp.get("image_digest") is None for sp in result.start_points)
        (warning,) = [line for line in said if "warning" in line]
        assert warning.startswith(f"warning: {private.host}: denied (no credentials for ")
        assert warning.endswith("its images' digests and sizes are not recorded")
        # each image asked is two requests (anonymous, then with an anonymous token); 8 are
        # asked at once, the other 4 are held: 16, not 24
        assert private.manifest_requests() - asked <= 16

        with pytest.raises(InvalidStartPoint, match="12 problems") as refused:
            assemble.assemble(assemble.Request(sources=sources, images="verify"), anonymous)
        assert all("denied" in str(p) for p in refused.value.problems)
        with_login = Stores(docker_config=login, retry=FAST_RETRY)
        verified = assemble.assemble(assemble.Request(sources=sources, images="verify"), with_login)
        assert all(sp["image_digest"].startswith("sha256:") for sp in verified.start_points)
    finally:
        private.stop()


def _set_image_name(start_point: Path, image_name: str) -> None:
    path = start_point / "manifest.json"
    loaded = json.loads(path.read_text())
    loaded["image_name"] = image_name
    path.write_text(json.dumps(loaded))


def test_an_existing_folder_that_is_not_a_catalog_is_not_replaced(
    tmp_path: Path, stores: Stores
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(StartpointsError, match="is not a catalog"):
        assemble.assemble(
            assemble.Request(sources=[str(EXAMPLES / "bash-bats")], output=precious), stores
        )
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_custom_and_exercise_kinds(tmp_path: Path, stores: Stores) -> None:
    exercise = tmp_path / "doors"
    exercise.mkdir()
    (exercise / "readme.txt").write_text("100 doors")
    (exercise / "manifest.json").write_text(
        '{"display_name": "100 doors", "visible_filenames": ["readme.txt"]}'
    )
    result = assemble.assemble(
        assemble.Request(sources=[str(exercise)], kind="exercises", output=tmp_path / "ex"), stores
    )
    assert result.kind == "exercises" and len(result.start_points) == 1
    with pytest.raises(InvalidStartPoint):
        assemble.assemble(assemble.Request(sources=[str(exercise)], kind="languages"), stores)
