"""`create`'s exit code for each manifest rule, against cyber-dojo's own checkers: for every
code that check_all.rb and its check_*.rb assign, a start point that breaks that rule alone
is checked by the real checkers (Ruby, from ../shared/cyberdojo) and by `startpoints create`;
both must exit with the code listed here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CYBERDOJO, EXAMPLES, git

CHECK_ALL = CYBERDOJO / "start-points-base" / "app" / "src" / "from_script" / "check_all.rb"
pytestmark = pytest.mark.skipif(
    shutil.which("ruby") is None or not CHECK_ALL.exists(),
    reason=f"needs ruby (Debian package ruby) and {CHECK_ALL}",
)
Edit = Callable[[dict[str, Any], Path], None]


def set_(**changes: Any) -> Edit:
    def edit(manifest: dict[str, Any], _folder: Path) -> None:
        manifest.update(changes)

    return edit


def drop(key: str) -> Edit:
    def edit(manifest: dict[str, Any], _folder: Path) -> None:
        manifest.pop(key)

    return edit


def both(*edits: Edit) -> Edit:
    def edit(manifest: dict[str, Any], folder: Path) -> None:
        for each in edits:
            each(manifest, folder)

    return edit


LANGUAGE_CASES: list[tuple[str, Edit, int]] = [
    ("a valid start point", set_(), 0),
    ("an unknown key", set_(colour="red"), 20),
    ("a required key missing", drop("image_name"), 21),
    ("image_name not a string", set_(image_name=42), 30),
    ("image_name malformed", set_(image_name="UPPER/Case"), 30),
    ("display_name empty", set_(display_name=""), 31),
    ("visible_filenames empty", set_(visible_filenames=[]), 32),
    ("visible_filenames naming no file", set_(visible_filenames=["cyber-dojo.sh", "nope.py"]), 32),
    ("filename_extension not a string or list", set_(filename_extension=5), 33),
    ("hidden_filenames not a list", set_(hidden_filenames="x"), 40),
    ("tab_size zero", set_(tab_size=0), 41),
    ("max_seconds too big", set_(max_seconds=1000), 42),
    ("highlight_filenames naming no visible file", set_(highlight_filenames=["nope"]), 43),
    ("progress_regexs not two regexes", set_(progress_regexs=["a"]), 44),
    ("rag_lambda naming no file", set_(rag_lambda="nope.rb"), 45),
    ("language not a pair", set_(language="Python"), 46),
    ("test_framework not a pair", set_(test_framework=5), 47),
    ("language without test_framework", drop("test_framework"), 48),
    ("two problems: the first rule's code", both(set_(tab_size=0), set_(image_name=42)), 30),
]
EXERCISE_CASES: list[tuple[str, Edit, int]] = [
    ("a valid exercise", set_(), 0),
    ("an unknown key", set_(image_name="x/y"), 50),
    ("a required key missing", drop("display_name"), 51),
    ("display_name empty", set_(display_name=""), 60),
    ("visible_filenames empty", set_(visible_filenames=[]), 61),
]


def start_point(folder: Path, edit: Edit, kind: str) -> Path:
    if kind == "exercises":
        folder.mkdir(parents=True)
        (folder / "readme.txt").write_text("Write a function.\n")
        manifest: dict[str, Any] = {
            "display_name": "Fizz Buzz",
            "visible_filenames": ["readme.txt"],
        }
    else:
        shutil.copytree(EXAMPLES / "python-pytest" / "start_point", folder)
        manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest, folder)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    git(folder, "init", "-q", "-b", "main")  # a repository, as the create script clones
    commit(folder)
    return folder


def commit(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start point")


def real_code(sources: list[Path], kind: str, work: Path) -> tuple[int, str]:
    """check_all.rb as the create script runs it: ROOT/0/…, ROOT/1/…, ROOT/shas.txt."""
    root = work / "real"
    lines = []
    for i, source in enumerate(sources):
        shutil.copytree(source, root / str(i) / source.name)
        lines.append(f"{i}\t{'0' * 40}\tfile://{source}\n")
    (root / "shas.txt").write_text("".join(lines))
    done = subprocess.run(
        ["ruby", "-I", str(CYBERDOJO / "shim"), str(CHECK_ALL), str(root), kind],
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stderr


def our_code(sources: list[Path] | list[str], kind: str, work: Path) -> tuple[int, str]:
    name = f"oci:{work / 'layout'}:cdsp/created:1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "startpoints",
            "create",
            name,
            f"--{kind}",
            *map(str, sources),
            "--base",
            "none",
        ],  # fmt: skip
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stderr


def assert_same_code(sources: list[Path], kind: str, work: Path, code: int) -> None:
    real, real_err = real_code(sources, kind, work)
    assert real == code, f"cyber-dojo's checkers exit {real}, not {code}: {real_err}"
    ours, our_err = our_code(sources, kind, work)
    assert ours == code, f"startpoints create exits {ours}, cyber-dojo's {code}: {our_err}"
    if code:  # in the script's form: its last line first, then each problem as a checker shows it
        lines = our_err.splitlines()
        assert lines[0].startswith("ERROR: Failed to build ")
        assert lines[1].startswith("ERROR: ")
        if code != 3:
            assert f"--{kind} {sources[0]}" in lines or f"--{kind} {sources[-1]}" in lines


@pytest.mark.parametrize(
    ("case", "edit", "code"), LANGUAGE_CASES, ids=[c[0] for c in LANGUAGE_CASES]
)
@pytest.mark.parametrize("kind", ["languages", "custom"])
def test_each_language_rule_exits_with_cyber_dojos_code(
    tmp_path: Path, case: str, edit: Edit, code: int, kind: str
) -> None:
    assert_same_code([start_point(tmp_path / "sp", edit, kind)], kind, tmp_path, code)


@pytest.mark.parametrize(
    ("case", "edit", "code"), EXERCISE_CASES, ids=[c[0] for c in EXERCISE_CASES]
)
def test_each_exercise_rule_exits_with_cyber_dojos_code(
    tmp_path: Path, case: str, edit: Edit, code: int
) -> None:
    assert_same_code([start_point(tmp_path / "sp", edit, "exercises")], "exercises", tmp_path, code)


@pytest.mark.parametrize(("kind", "code"), [("languages", 40), ("custom", 40), ("exercises", 90)])
def test_a_display_name_in_two_sources_exits_with_cyber_dojos_code(
    tmp_path: Path, kind: str, code: int
) -> None:
    sources = [start_point(tmp_path / f"sp{i}", set_(), kind) for i in range(2)]
    assert_same_code(sources, kind, tmp_path, code)


@pytest.mark.parametrize(
    ("case", "text", "code"),
    [("bad JSON", '{"display_name": ', 17), ("duplicate keys", '{"a": 1, "a": 2}', 18)],
)
def test_a_manifest_that_is_not_clean_json_exits_with_cyber_dojos_code(
    tmp_path: Path, case: str, text: str, code: int
) -> None:
    good = start_point(tmp_path / "good", set_(tab_size=0), "languages")  # its 41 comes first
    bad = start_point(tmp_path / "bad", set_(), "languages")
    (bad / "manifest.json").write_text(text)
    commit(bad)
    assert_same_code([good, bad], "languages", tmp_path, code)


def test_a_source_with_no_manifest_exits_16(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no start point here\n")
    git(empty, "init", "-q", "-b", "main")
    commit(empty)
    assert_same_code([empty], "languages", tmp_path, 16)


BAD_ARGS = CYBERDOJO / "start-points-base" / "app" / "src" / "from_script" / "bad_args.rb"


@pytest.mark.parametrize(
    "words",
    [
        ["--languages", "x"], ["--custom"], ["--exercises", "a"], ["jj"], ["jj", "--nope", "a"],
        ["jj", "--custom"], ["jj", "--exercises"], ["jj", "--languages"],
        ["jj", "--custom", "a", "a"], ["jj", "--exercises", "b", "a", "b", "a", "c"],
        ["jj", "--languages", "b", "a", "b", "a"], ["Bad/Name", "--languages", "a"],
        ["jj:", "--languages", "a"],
        ["--languages", "x", "--push"], ["jj", "--languages", "--base", "x/y:1"],
    ],
)  # fmt: skip
def test_argument_errors_are_the_create_scripts(words: list[str]) -> None:
    """Code and message as bad_args.rb gives them, then the script's own `ERROR: bad args`;
    our options (--push, --base, ...) change neither."""
    theirs = " ".join(words).replace(" --push", "").replace(" --base x/y:1", "").split()
    real = subprocess.run(["ruby", str(BAD_ARGS), *theirs], capture_output=True, text=True)
    assert real.returncode != 0
    ours = subprocess.run(
        [sys.executable, "-m", "startpoints", "create", *words], capture_output=True, text=True
    )
    assert (ours.returncode, ours.stderr) == (real.returncode, real.stderr + "ERROR: bad args\n")
    assert ours.stdout == ""


def test_a_git_url_that_cannot_be_cloned_exits_3_as_the_script_does(tmp_path: Path) -> None:
    # start-point-create.sh: `git clone` failing for master and main → `exit 3`
    code, err = our_code([f"file://{tmp_path}/no-such-repo"], "languages", tmp_path)
    assert code == 3 and err.startswith("ERROR: ")


def test_an_untagged_git_url_is_created_from_its_default_branch(
    tmp_path: Path, make_repo: Any
) -> None:
    repo = make_repo()
    code, err = our_code([f"file://{repo}"], "languages", tmp_path)
    assert code == 0, err


def test_on_success_stdout_holds_the_scripts_progress_lines_and_stderr_nothing(
    tmp_path: Path, make_repo: Any
) -> None:
    """The create script's echo lines: `git clone URL`, `git checkout SHA7` for a tagged url,
    `--TYPE \\t URL`, then `Successfully built NAME`."""
    repo = make_repo()
    sha7 = git(repo, "rev-parse", "HEAD")[:7]
    other = make_repo("bash-bats", "other")
    sources = [f"{sha7}@file://{repo}", str(other)]
    name = f"oci:{tmp_path / 'layout'}:cdsp/created:1"
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "create", name, "--languages", *sources,
         "--base", "none"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[:-1] == [
        f"git clone file://{repo}",
        f"git checkout {sha7}",
        f"--languages \t {sources[0]}",
        f"git clone {other}",
        f"--languages \t {other}",
    ]
    assert lines[-1] == f"Successfully built {name}"  # the name exactly as given
