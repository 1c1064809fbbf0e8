"""lint on hostile manifests: every one a named problem with exit 1 and valid --json, never a
traceback; and, by property, over generated manifests: no exception escapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from startpoints.cli.main import INTERNAL_ERROR, main
from startpoints.core import manifest
from startpoints.core.lint import lint

GOOD: dict[str, Any] = {
    "display_name": "Bash, bats",
    "image_name": "cyberdojofoundation/bash_bats:1a2b3c4",
    "filename_extension": ".sh",
    "visible_filenames": ["cyber-dojo.sh", "hiker.sh"],
}


def folder(tmp_path: Path, text: str) -> Path:
    sp = tmp_path / "sp"
    sp.mkdir(exist_ok=True)
    for name in ("cyber-dojo.sh", "hiker.sh"):
        (sp / name).write_text("#!/bin/sh\n")
    (sp / "manifest.json").write_text(text)
    return sp


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            json.dumps({**GOOD, "visible_filenames": ["cyber-dojo.sh", "n" * 300]}),
            "more than 255 bytes",
        ),
        (json.dumps({**GOOD, "hidden_filenames": ["a{99999999999}"]}), "not a usable regex"),
        (json.dumps({**GOOD, "hidden_filenames": ["(" * 5000 + ")" * 5000]}), "not a usable regex"),
        (json.dumps(GOOD)[:-1] + ', "tab_size": 1e999}', "too large a number"),
        (json.dumps(GOOD)[:-1] + ', "tab_size": NaN}', "NaN is not JSON"),
        ("[" * 100_000, "nested more than"),
        (json.dumps({**GOOD, "progress_regexs": ["(" * 5000, "x"]}), "not a"),
        ("\xff\xfe not utf-8", "cannot be read"),
    ],
)
def test_a_hostile_manifest_is_a_named_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, reason: str
) -> None:
    sp = folder(tmp_path, text)
    if text.startswith("\xff"):
        (sp / "manifest.json").write_bytes(b"\xff\xfe not utf-8")
    assert main(["lint", str(sp)]) == 1
    out = capsys.readouterr()
    assert reason in out.out and "Traceback" not in out.err
    assert main(["lint", "--json", str(sp)]) == 1
    listed = json.loads(capsys.readouterr().out)  # always valid JSON
    assert any(reason in p["reason"] for p in listed["problems"])


def test_an_internal_error_is_one_line_and_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(*_: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("startpoints.core.lint.lint", broken)
    assert main(["lint", str(tmp_path)]) == INTERNAL_ERROR != 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "startpoints: internal error: ZeroDivisionError: a bug (STARTPOINTS_DEBUG=1 shows the traceback)"
    ]
    monkeypatch.setenv("STARTPOINTS_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["lint", str(tmp_path)])


# --- properties ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
filenames = st.text(alphabet="ab./-_~ \\\0\n", max_size=12) | st.sampled_from(
    ["cyber-dojo.sh", "hiker.sh", "../x", "/etc/passwd", "", ".", "a//b", "hiker.sh/"]
)
regexes = st.text(alphabet="()[]{}*+?|\\a1,^$", max_size=20)
manifests = st.fixed_dictionaries(
    {},
    optional={
        "display_name": json_values | st.text(max_size=20),
        "image_name": json_values | st.sampled_from(["a/b:1", "A/B", "oci:/x", "x@sha256:1"]),
        "filename_extension": json_values | st.lists(st.text(alphabet=".ab", max_size=3)),
        "visible_filenames": json_values | st.lists(filenames, max_size=5),
        "hidden_filenames": json_values | st.lists(regexes, max_size=3),
        "highlight_filenames": json_values | st.lists(filenames, max_size=3),
        "progress_regexs": json_values | st.lists(regexes, max_size=3),
        "rag_lambda": json_values | filenames,
        "tab_size": json_values,
        "max_seconds": json_values,
        "language": json_values,
        "test_framework": json_values,
        "surprise": json_values,
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=manifests, kind=st.sampled_from(manifest.KINDS))
def test_lint_names_every_problem_and_never_raises(tmp_path: Path, value: dict, kind: str) -> None:
    sp = folder(tmp_path, json.dumps(value))
    report = lint([sp], kind)  # type: ignore[arg-type]
    for problem in report.problems:
        assert problem.file and problem.reason
        json.dumps(problem.as_json(), allow_nan=False)  # --json stays JSON
    if value == {**GOOD} and kind == "languages":
        assert report.problems == []


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_lint_of_any_text_never_raises(tmp_path: Path, text: str) -> None:
    sp = folder(tmp_path, text)
    report = lint([sp], "languages")
    assert report.problems or report.entries
