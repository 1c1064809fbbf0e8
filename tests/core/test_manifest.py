"""Each manifest rule of DESIGN.md §3: a failing case and a passing case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from startpoints.core import manifest
from startpoints.core.manifest import Kind

GOOD_LANGUAGE: dict[str, Any] = {
    "display_name": "Python, pytest",
    "image_name": "ghcr.io/cyber-dojo-languages/python_pytest:4edf92a",
    "visible_filenames": ["hiker.py", "test_hiker.py", "cyber-dojo.sh"],
    "filename_extension": [".py"],
}
GOOD_EXERCISE: dict[str, Any] = {"display_name": "100 doors", "visible_filenames": ["readme.txt"]}
FILES = ("hiker.py", "test_hiker.py", "cyber-dojo.sh", "readme.txt", "rag.rb", "sub/dir.txt")


def check(tmp_path: Path, kind: Kind = "languages", **changes: Any) -> list[str]:
    base = GOOD_EXERCISE if kind == "exercises" else GOOD_LANGUAGE
    data = {**base, **changes}
    data = {k: v for k, v in data.items() if v is not DROP}
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    _, problems = manifest.check_dir(tmp_path, kind, "manifest.json")
    return [str(p) for p in problems]


DROP = object()


def test_good_manifests_pass(tmp_path: Path) -> None:
    assert check(tmp_path) == []
    assert check(tmp_path / "x", "exercises") == []


# (changes, expected fragment of the one problem); each rule's failing cases.
FAILING: list[tuple[dict[str, Any], str]] = [
    ({"runner_choice": "stateless"}, 'unknown key "runner_choice"'),
    ({"image_name": DROP}, 'missing required key "image_name"'),
    ({"display_name": DROP}, 'missing required key "display_name"'),
    ({"image_name": None}, "image_name=null: must be a string"),
    ({"image_name": "CYBERDOJO/csharp_nunit"}, 'image_name="CYBERDOJO/csharp_nunit": is malformed'),
    ({"image_name": "a:b:c"}, "is malformed"),
    ({"image_name": "oci:/tmp/x:y"}, "not an oci: layout"),
    ({"display_name": None}, "display_name=null: must be a string"),
    ({"display_name": ""}, 'display_name="": cannot be empty'),
    ({"visible_filenames": "hiker.py"}, "must be a list"),
    ({"visible_filenames": []}, "visible_filenames=[]: cannot be empty"),
    ({"visible_filenames": ["cyber-dojo.sh", 3]}, "visible_filenames[1]=3: must be a string"),
    ({"visible_filenames": ["cyber-dojo.sh", ""]}, 'visible_filenames[1]="": cannot be empty'),
    ({"visible_filenames": ["cyber-dojo.sh", "a b.py"]}, "non-portable characters ' '"),
    ({"visible_filenames": ["cyber-dojo.sh", "-rf"]}, "cannot start with '-'"),
    ({"visible_filenames": ["cyber-dojo.sh", "../hiker.py"]}, "must be a relative path"),
    ({"visible_filenames": ["cyber-dojo.sh", "/etc/passwd"]}, "must be a relative path"),
    ({"visible_filenames": ["cyber-dojo.sh", "missing.py"]}, '"missing.py": does not exist'),
    ({"visible_filenames": ["cyber-dojo.sh", "sub"]}, "is not a regular file"),
    (
        {"visible_filenames": ["cyber-dojo.sh", "hiker.py", "hiker.py"]},
        'visible_filenames[1, 2]="hiker.py": are duplicates',
    ),
    ({"visible_filenames": ["hiker.py"]}, 'must include "cyber-dojo.sh"'),
    ({"filename_extension": 3}, "must be a string or a non-empty list of strings"),
    ({"filename_extension": []}, "must be a string or a non-empty list of strings"),
    ({"filename_extension": None}, "must be a string or a non-empty list of strings"),
    ({"filename_extension": ["py"]}, 'filename_extension[0]="py": must start with a dot'),
    ({"filename_extension": "."}, "must be more than just a dot"),
    ({"filename_extension": [""]}, "cannot be empty"),
    ({"filename_extension": [".h", ".c", ".h"]}, 'filename_extension[0, 2]=".h": are duplicates'),
    ({"hidden_filenames": "x"}, "must be a list of regex strings"),
    ({"hidden_filenames": ["("]}, 'hidden_filenames[0]="(": is not a valid regex'),
    ({"hidden_filenames": [""]}, "must be a non-empty regex string"),
    ({"hidden_filenames": ["a", "b", "a"]}, "hidden_filenames[0, 2]"),
    ({"highlight_filenames": []}, "must be a non-empty list"),
    ({"highlight_filenames": ["nope.py"]}, "is not in visible_filenames"),
    ({"highlight_filenames": ["hiker.py", "hiker.py"]}, "are duplicates"),
    ({"highlight_filenames": [""]}, "must be a non-empty string"),
    ({"progress_regexs": ["a"]}, "must be a list of exactly 2 regex strings"),
    ({"progress_regexs": ["a", "("]}, 'progress_regexs[1]="(": is not a valid regex'),
    ({"progress_regexs": ["a", ""]}, "must be a non-empty regex string"),
    ({"tab_size": 0}, "tab_size=0: must be an integer from 1 to 8"),
    ({"tab_size": 9}, "tab_size=9"),
    ({"tab_size": True}, "tab_size=true"),
    ({"tab_size": 4.0}, "tab_size=4.0"),
    ({"max_seconds": 21}, "max_seconds=21: must be an integer from 1 to 20"),
    ({"max_seconds": "6"}, 'max_seconds="6"'),
    ({"max_seconds": None}, "max_seconds=null"),
    ({"rag_lambda": 1}, "rag_lambda=1: must be a string naming a file"),
    ({"rag_lambda": ""}, 'rag_lambda="": cannot be empty'),
    ({"rag_lambda": "nope.rb"}, 'rag_lambda="nope.rb": does not exist'),
    ({"rag_lambda": "../rag.rb"}, "must be a relative path"),
    ({"language": "Python", "test_framework": ["pytest", "8"]}, "must be a list of 2 strings"),
    ({"language": ["Python"], "test_framework": ["pytest", "8"]}, "must be a list of 2 strings"),
    (
        {"language": ["", "3"], "test_framework": ["pytest", "8"]},
        'language[0]="": the name cannot be empty',
    ),
    (
        {"language": ["Python", 3], "test_framework": ["pytest", "8"]},
        "language[1]=3: must be a string",
    ),
    ({"language": ["Python", "3"]}, 'needs "test_framework" too'),
    ({"test_framework": ["pytest", "8"]}, 'needs "language" too'),
]


@pytest.mark.parametrize(("changes", "expected"), FAILING, ids=[e for _, e in FAILING])
def test_failing_rule(tmp_path: Path, changes: dict[str, Any], expected: str) -> None:
    problems = check(tmp_path, **changes)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("manifest.json: ") for p in problems)


PASSING: list[dict[str, Any]] = [
    {"image_name": "cyberdojofoundation/csharp_nunit"},
    {"image_name": "localhost:5000/x/y:t@sha256:" + "a" * 64},
    {"visible_filenames": ["cyber-dojo.sh", "sub/dir.txt"]},
    {"filename_extension": ".py"},
    {"filename_extension": [".cpp", ".hpp", ".c", ".h"]},
    {"hidden_filenames": []},
    {"hidden_filenames": ["TestResult\\.xml", "coverage/\\.last_run\\.json"]},
    {"highlight_filenames": ["hiker.py"]},
    {"progress_regexs": ["Failures (\\d)\\:", "^\\[\\s+(\\d+) tests successful\\s+\\]"]},
    {"tab_size": 1, "max_seconds": 20},
    {"tab_size": 8, "max_seconds": 1},
    {"rag_lambda": "rag.rb"},
    {"language": ["Python", "3.12"], "test_framework": ["pytest", ""]},
]


@pytest.mark.parametrize("changes", PASSING, ids=[json.dumps(c)[:60] for c in PASSING])
def test_passing_rule(tmp_path: Path, changes: dict[str, Any]) -> None:
    assert check(tmp_path, **changes) == []


def test_exercises_must_not_include_cyber_dojo_sh(tmp_path: Path) -> None:
    problems = check(tmp_path, "exercises", visible_filenames=["readme.txt", "cyber-dojo.sh"])
    assert any('cannot include "cyber-dojo.sh"' in p for p in problems)


def test_exercises_know_only_two_keys(tmp_path: Path) -> None:
    problems = check(tmp_path, "exercises", image_name="x/y:1")
    assert problems == ['manifest.json: unknown key "image_name"']


def test_custom_needs_no_cyber_dojo_sh(tmp_path: Path) -> None:
    assert check(tmp_path, "custom", visible_filenames=["hiker.py"]) == []
    assert check(tmp_path / "l", "languages", visible_filenames=["hiker.py"]) != []


def test_too_large_visible_file(tmp_path: Path) -> None:
    assert check(tmp_path) == []
    (tmp_path / "hiker.py").write_bytes(b"x" * (25 * 1024 + 1))
    _, problems = manifest.check_dir(tmp_path, "languages", "manifest.json")
    assert [str(p) for p in problems] == [
        'manifest.json: visible_filenames[0]="hiker.py": is too large (25601 bytes > 25600)'
    ]
    (tmp_path / "hiker.py").write_bytes(b"x" * (25 * 1024))
    assert manifest.check_dir(tmp_path, "languages", "manifest.json")[1] == []


def test_visible_file_linking_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    sp = tmp_path / "sp"
    check(sp)
    (sp / "hiker.py").unlink()
    (sp / "hiker.py").symlink_to(outside)
    _, problems = manifest.check_dir(sp, "languages", "manifest.json")
    assert [str(p) for p in problems] == [
        'manifest.json: visible_filenames[0]="hiker.py": is a link leaving the start point'
    ]


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    problems = check(
        tmp_path, tab_size=0, max_seconds=0, filename_extension="py", extra=1, image_name=DROP
    )
    assert len(problems) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"display_name": "a", "display_name": "b"}', 'duplicate keys "display_name"'),
        ('{"language": {"x": 1, "x": 2}}', 'duplicate keys "x"'),
        ('{"display_name": ', "bad JSON"),
        ('{"max_seconds": NaN}', "bad JSON: NaN is not JSON"),
        ("[1, 2]", "must hold a JSON object, not an array"),
        (b"\xff\xfe", "cannot be read"),
    ],
)
def test_unloadable_manifest(tmp_path: Path, text: str | bytes, expected: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    loaded, problems = manifest.load(path, "manifest.json")
    assert loaded is None
    assert len(problems) == 1 and expected in str(problems[0])
