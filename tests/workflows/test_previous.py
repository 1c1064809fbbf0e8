"""A rollout's mixed catalogs (`assemble --previous`): while old and new services answer side by
side, a client lists `/names` on an old one and asks `/manifest` of a new one. A version bump
renames a start point, so the new catalog carries the previous one's manifests for the names it
no longer serves: `/manifest` answers them as the old service did, `/names` and `/manifests`
list only the current ones, `/start_points` marks them. Real registry, real `startpoints serve`
processes over HTTP."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from startpoints.core import catalog, reference, served
from startpoints.core.reference import Reference
from startpoints.errors import InvalidStartPoint, StartpointsError
from startpoints.http import app
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.cli.test_serve_cli import get, serving
from tests.conftest import EXAMPLES
from tests.servers import Registry
from tests.workflows.test_replaces import startpoints

CATALOG = "cyber-dojo{}/languages-start-points"


def start_point(into: Path, example: str, display_name: str, **changes: Any) -> str:
    """An example start point named by its display name alone (no language/test_framework, as
    most of cyber-dojo's: the served name then carries the versions)."""
    folder = into / display_name.replace(" ", "_").replace(",", "")
    shutil.copytree(EXAMPLES / example / "start_point", folder)
    file = folder / "manifest.json"
    loaded = json.loads(file.read_text())
    for key in ("language", "test_framework"):
        loaded.pop(key)
    file.write_text(json.dumps({**loaded, "display_name": display_name, **changes}))
    return str(folder)


@pytest.fixture
def old(registry: Registry, stores: Stores, unique: str, tmp_path: Path) -> Reference:
    """The catalog in production: Python 3.12, Bash 5.2 and Cobol (retired in the new one)."""
    sources = [
        start_point(tmp_path / "old", "python-pytest", "Python 3.12, pytest 8.3"),
        start_point(tmp_path / "old", "bash-bats", "Bash 5.2, bats 1.11"),
        start_point(tmp_path / "old", "bash-bats", "Cobol 3, cobol-check 0.2"),
    ]
    tag = reference.parse(f"{registry.host}/{CATALOG.format(unique)}:1111111")
    pushed = assemble.assemble(assemble.Request(sources=sources, tag=tag), stores).image
    assert pushed is not None
    return pushed


def new_sources(tmp_path: Path) -> list[str]:
    """The next catalog: Python bumped to 3.13 (renamed, a new image tag), Bash as it was,
    Cobol gone, Ruby added."""
    return [
        start_point(
            tmp_path / "new",
            "python-pytest",
            "Python 3.13, pytest 8.4",
            image_name="ghcr.io/cyber-dojo-languages/python_pytest:3b4c5d6",
        ),
        start_point(tmp_path / "new", "bash-bats", "Bash 5.2, bats 1.11"),
        start_point(
            tmp_path / "new",
            "python-pytest",
            "Ruby 3.4, minitest 5",
            image_name="ghcr.io/cyber-dojo-languages/ruby_minitest:4c5d6e7",
        ),
    ]


def answers(port: int, names: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    return {name: get(port, "/manifest", json.dumps({"name": name}).encode()) for name in names}


def test_a_client_that_listed_the_old_catalog_gets_the_old_manifest_from_the_new_one(
    old: Reference, tmp_path: Path
) -> None:
    old_by_tag = old.with_tag(old.tag or "")  # as a deploy names it
    new = old_by_tag.with_tag("2222222")
    sources = [*new_sources(tmp_path), "--no-verify-images"]
    done = startpoints(
        "assemble", *sources, "--previous", str(old_by_tag), "--tag", str(new),
        home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    bare = old_by_tag.with_tag("3333333")
    without = startpoints("assemble", *sources, "--tag", str(bare), home=tmp_path)
    assert without.returncode == 0, without.stderr

    with (
        serving(str(old)) as old_port,
        serving(str(new)) as new_port,
        serving(str(bare)) as bare_port,
    ):
        listed = get(old_port, "/names")[1]["names"]
        assert listed == [
            "Bash 5.2, bats 1.11",
            "Cobol 3, cobol-check 0.2",
            "Python 3.12, pytest 8.3",
        ]
        as_old = answers(old_port, listed)

        # mid-rollout, the next request goes to a new pod: every name answered, as before
        assert answers(new_port, listed) == as_old
        # the failing case: a new catalog that does not carry them is the 500 of the issue
        refused = answers(bare_port, listed)
        assert refused["Python 3.12, pytest 8.3"][0] == 500
        assert refused["Python 3.12, pytest 8.3"][1]["exception"]["message"] == (
            "name:Python 3.12, pytest 8.3:unknown"
        )

        current = ["Bash 5.2, bats 1.11", "Python 3.13, pytest 8.4", "Ruby 3.4, minitest 5"]
        assert get(new_port, "/names")[1]["names"] == current
        assert sorted(get(new_port, "/manifests")[1]["manifests"]) == current
        assert (
            "ghcr.io/cyber-dojo-languages/python_pytest"
            not in get(new_port, "/image_names")[1]["image_names"]
        )  # the previous catalog's images are not pre-pulled again
        listed_new = get(new_port, "/start_points")[1]["start_points"]
        marked = {sp["name"] for sp in listed_new if sp.get("previous")}
        assert marked == {"Cobol 3, cobol-check 0.2", "Python 3.12, pytest 8.3"}
        assert {sp["name"] for sp in listed_new if not sp.get("previous")} == set(current)

    again = startpoints(
        "assemble", "--from", str(new), "--tag", str(new.with_tag("4")), home=tmp_path
    )
    assert again.returncode == 0, again.stderr
    rebuilt = reference.parse(again.stdout.splitlines()[-1])
    assert rebuilt.digest == reference.parse(done.stdout.splitlines()[-1]).digest  # byte for byte


def test_a_folder_deploy_replaced_in_place_keeps_the_names_it_served(
    stores: Stores, tmp_path: Path
) -> None:
    deployed = tmp_path / "catalog"
    first = [start_point(tmp_path / "v1", "python-pytest", "Python 3.12, pytest 8.3")]
    assemble.assemble(assemble.Request(sources=first, output=deployed), stores)
    second = [start_point(tmp_path / "v2", "python-pytest", "Python 3.13, pytest 8.4")]
    request = assemble.Request(sources=second, output=deployed, previous=str(deployed))
    assemble.assemble(request, stores)

    found = served.load(deployed)
    assert found.names == ["Python 3.13, pytest 8.4"]
    assert sorted(found.previous) == ["Python 3.12, pytest 8.3"]
    assert found.manifest("Python 3.12, pytest 8.3") == found.previous["Python 3.12, pytest 8.3"]
    client = TestClient(app.build(found, sha=None))
    asked = client.post("/manifest", json={"name": "Python 3.12, pytest 8.3", "x": 1})  # the app
    assert asked.status_code == 200
    assert asked.json()["manifest"] == found.previous["Python 3.12, pytest 8.3"]
    page = client.get("/").text
    assert "for clients of the catalog this one replaced: 1 name" in page
    assert "<li>Python 3.12, pytest 8.3</li>" in page
    index = json.loads((deployed / "catalog.json").read_text())
    assert index["previous"]["catalog"] == str(deployed)
    assert [r["manifest"] for r in index["previous"]["start_points"]] == [
        ".previous/0/manifest.json"
    ]

    # one generation: the third catalog carries the second's names, not the first's
    third = [start_point(tmp_path / "v3", "python-pytest", "Python 3.14, pytest 9")]
    request = assemble.Request(sources=third, output=deployed, previous=str(deployed))
    assemble.assemble(request, stores)
    assert sorted(served.load(deployed).previous) == ["Python 3.13, pytest 8.4"]


def test_names_still_served_by_name_or_display_name_are_not_carried() -> None:
    manifests = [
        {"display_name": "Java 25, JUnit 6", "language": ["Java", "25"], "test_framework": ["JUnit", "6"]},
    ]  # fmt: skip
    previous = ["Java, JUnit", "Java 25, JUnit 6", "Java 24, JUnit 5", "Cobol"]
    assert catalog.no_longer_served(previous, manifests) == ["Cobol", "Java 24, JUnit 5"]


def test_a_previous_catalog_of_another_kind_or_missing_is_refused_before_anything_is_pushed(
    old: Reference, registry: Registry, stores: Stores, tmp_path: Path
) -> None:
    target = old.with_tag("5555555")
    exercises = tmp_path / "exercises"
    (exercises / "fizz").mkdir(parents=True)
    (exercises / "fizz" / "readme.txt").write_text("fizz buzz\n")
    (exercises / "fizz" / "manifest.json").write_text(
        json.dumps({"display_name": "Fizz", "visible_filenames": ["readme.txt"]})
    )
    cases = [
        (str(old), "languages", "not a catalog image of kind exercises"),
        (str(old.with_tag("0000000")), "exercises", "0000000"),
        (str(tmp_path / "nowhere"), "exercises", "no such folder"),
    ]
    for previous, kind, said in cases:
        sources = [str(EXAMPLES / "bash-bats")] if kind == "languages" else [str(exercises)]
        request = assemble.Request(sources=sources, kind="exercises", previous=previous, tag=target)
        with pytest.raises(StartpointsError, match=said):
            assemble.assemble(request, stores)
    assert registry.tags(target.repository) == ["1111111"]


@pytest.mark.parametrize(
    "previous, said",
    [
        ({"start_points": [{"manifest": "../outside/manifest.json", "name": "X"}]}, "outside"),
        ({"start_points": [{"manifest": ".previous/0/manifest.json", "name": "Bash 5.2, bats 1.11"}]}, "does not answer"),
        ({"start_points": [{"manifest": ".previous/0/manifest.json"}]}, "does not answer"),
        ({"start_points": "x"}, "previous must be a list"),
        ("x", "previous must be an object"),
    ],
)  # fmt: skip
def test_a_hostile_previous_record_refuses_the_catalog_whole(
    stores: Stores, tmp_path: Path, previous: Any, said: str
) -> None:
    deployed = tmp_path / "catalog"
    sources = [start_point(tmp_path / "sp", "bash-bats", "Bash 5.2, bats 1.11")]
    assemble.assemble(assemble.Request(sources=sources, output=deployed), stores)
    shutil.copytree(deployed / "0", deployed / ".previous" / "0")
    index = json.loads((deployed / "catalog.json").read_text())
    (deployed / "catalog.json").write_text(json.dumps({**index, "previous": previous}))
    with pytest.raises(StartpointsError) as refused:
        served.load(deployed)
    problems = refused.value.problems if isinstance(refused.value, InvalidStartPoint) else []
    assert said in " ".join([str(refused.value), *map(str, problems)])


def exercise(into: Path, name: str) -> str:
    folder = into / name.replace(" ", "_")
    folder.mkdir(parents=True)
    (folder / "readme.txt").write_text(f"{name}\n")
    manifest = {"display_name": name, "visible_filenames": ["readme.txt"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return str(folder)


def test_a_plain_folder_of_start_points_is_read_as_the_kind_assembled(
    stores: Stores, tmp_path: Path
) -> None:
    """No catalog.json (cyber-dojo's own repos folder, copied out): of the kind assembled."""
    exercise(tmp_path / "repos", "Fizz")
    exercise(tmp_path / "repos", "Leap Years")
    sources = [exercise(tmp_path / "new", "Fizz Buzz"), exercise(tmp_path / "new", "Leap Years")]
    request = assemble.Request(
        sources=sources, kind="exercises", output=tmp_path / "c", previous=str(tmp_path / "repos")
    )
    assemble.assemble(request, stores)
    found = served.load(tmp_path / "c")
    assert (found.kind, found.names, sorted(found.previous)) == (
        "exercises", ["Fizz Buzz", "Leap Years"], ["Fizz"]
    )  # fmt: skip

    languages = tmp_path / "languages"
    shutil.copytree(EXAMPLES / "bash-bats" / "start_point", languages / "0")
    request = dataclasses.replace(request, previous=str(languages), output=tmp_path / "d")
    with pytest.raises(InvalidStartPoint, match=f"--previous {languages}: .* nothing assembled"):
        assemble.assemble(request, stores)
    assert not (tmp_path / "d").exists()


def test_a_carried_start_point_is_answered_by_its_display_name_too(
    stores: Stores, tmp_path: Path
) -> None:
    """The previous catalog served "Python, pytest" (every manifest had a language and a test
    framework); the next one serves display names. A client that asks by the old display_name,
    as cyber-dojo's lookup allows, gets the old start point, not a current one."""
    old = [str(EXAMPLES / "python-pytest"), str(EXAMPLES / "bash-bats")]
    assemble.assemble(assemble.Request(sources=old, output=tmp_path / "v1"), stores)
    assert served.load(tmp_path / "v1").names == ["Bash, bats", "Python, pytest"]
    new = [
        start_point(tmp_path / "v2", "python-pytest", "Python 3.13, pytest 8.4"),
        start_point(tmp_path / "v2", "bash-bats", "Bash 5.2, bats 1.11"),
    ]
    request = assemble.Request(sources=new, output=tmp_path / "c", previous=str(tmp_path / "v1"))
    assemble.assemble(request, stores)
    found = served.load(tmp_path / "c")
    assert sorted(found.previous) == ["Bash, bats", "Python, pytest"]
    by_display_name = found.manifest("Python 3.12, pytest 8.3")
    assert by_display_name is found.previous["Python, pytest"]
    client = TestClient(app.build(found, sha=None))
    asked = client.post("/manifest", json={"name": "Python 3.12, pytest 8.3"})
    assert asked.json()["manifest"]["display_name"] == "Python, pytest"
