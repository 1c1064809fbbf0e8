"""The published JSON Schemas agree with lint on real manifests and on broken ones."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from tests.conftest import CORPUS, ROOT
from tests.core.test_manifest import DROP, FAILING, GOOD_EXERCISE, GOOD_LANGUAGE

SCHEMAS = {p.name: json.loads(p.read_text()) for p in (ROOT / "schema").glob("*.json")}
REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values()
)


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMAS[name], registry=REGISTRY, format_checker=FormatChecker())


def test_schemas_are_valid_schemas() -> None:
    for schema in SCHEMAS.values():
        Draft202012Validator.check_schema(schema)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpus is not beside the repo")
@pytest.mark.parametrize(
    ("kind", "schema"),
    [
        ("languages", "manifest.schema.json"),
        ("custom", "custom-manifest.schema.json"),
        ("exercises", "exercise-manifest.schema.json"),
    ],
)
def test_every_corpus_manifest_is_valid(kind: str, schema: str) -> None:
    check = validator(schema)
    manifests = sorted((CORPUS / kind).rglob("manifest.json"))
    assert manifests
    for path in manifests:
        errors = [e.message for e in check.iter_errors(json.loads(path.read_text()))]
        assert errors == [], path


# What a schema cannot see: files on disk, their sizes, one entry naming another; and
# JSON Schema counts 4.0 as an integer, where cyber-dojo (and lint) want a JSON integer.
ON_DISK = (
    "does not exist",
    "is not a regular file",
    "is not in visible_filenames",
    "not an oci: layout",
    "tab_size=4.0",
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [c for c in FAILING if not c[1].endswith(ON_DISK)],
    ids=lambda c: str(c)[:50],
)
def test_schema_refuses_what_lint_refuses(changes: dict[str, Any], expected: str) -> None:
    data = {k: v for k, v in {**GOOD_LANGUAGE, **changes}.items() if v is not DROP}
    assert list(validator("manifest.schema.json").iter_errors(data)), expected


def test_good_manifests_pass_and_the_kinds_differ() -> None:
    assert not list(validator("manifest.schema.json").iter_errors(GOOD_LANGUAGE))
    assert not list(validator("exercise-manifest.schema.json").iter_errors(GOOD_EXERCISE))
    no_script = {**GOOD_LANGUAGE, "visible_filenames": ["hiker.py"]}
    assert list(validator("manifest.schema.json").iter_errors(no_script))
    assert not list(validator("custom-manifest.schema.json").iter_errors(no_script))
    with_script = {**GOOD_EXERCISE, "visible_filenames": ["readme.txt", "cyber-dojo.sh"]}
    assert list(validator("exercise-manifest.schema.json").iter_errors(with_script))
