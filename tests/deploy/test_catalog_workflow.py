"""The catalog repository's workflow (deploy/ci/languages-start-points.yml), its own steps run
by bash against a real registry: before anything is pushed, what the new list changes against
the catalog in production goes to the job summary; the catalog image pushed records that one
as the catalog it replaces."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from startpoints.core import reference
from startpoints.core.reference import Reference
from startpoints.oci import read
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble, publish, serve
from tests.conftest import ROOT, RepoFactory
from tests.deploy.workflow import run_steps
from tests.servers import Registry

WORKFLOW = ROOT / "deploy" / "ci" / "languages-start-points.yml"


def test_the_diff_against_production_comes_first_and_the_new_catalog_records_it(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    registry: Registry,
    stores: Stores,
    unique: str,
    tmp_path: Path,
) -> None:
    image = language_image()
    python, bash = (
        publish.publish(publish.Request(repo_dir=make_repo(e, e), image=image), stores)
        for e in ("python-pytest", "bash-bats")
    )
    catalog = f"{registry.host}/cyber-dojo{unique}/languages-start-points"
    production = assemble.assemble(
        assemble.Request(
            sources=[str(python.start_point)], tag=reference.parse(f"{catalog}:1111111")
        ),
        stores,
    ).image
    assert production is not None
    (tmp_path / "start-points.txt").write_text(f"{python.start_point}\n{bash.start_point}\n")
    variables = {
        "PRODUCTION_CATALOG": f"{catalog}:1111111",
        "CATALOG_REPOSITORY": catalog,
        "STARTPOINTS_IMAGE": "",
    }
    github = {"GITHUB_SHA": "2222222" + "0" * 33}
    steps = [
        "what this changes against the catalog in production",
        "assemble and push the catalog image",
    ]

    written = run_steps(
        WORKFLOW, "assemble", steps, tmp_path, {"vars": variables}, github, tmp_path
    )

    assert "Bash" in written["summary"] and "added" in written["summary"].lower()
    pushed = reference.parse(f"{catalog}:2222222")
    manifest, _ = read.image_manifest(stores.for_ref(pushed), pushed)
    assert manifest["annotations"]["org.cyber-dojo.start-points.replaces"] == str(production)
    summary = json.loads((tmp_path / "assemble.out").read_text().splitlines()[0])
    assert len(summary["start_points"]) == 2
    # production's names are still answered, from the catalog pinned by digest
    assert serve.built_from(str(pushed), stores)["previous"] == str(production)
