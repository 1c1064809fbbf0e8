"""`create`'s faults in cyber-dojo's words, line for line: every title of its checkers
(start-points-base's from_script/*.rb), for the three kinds, run by Debian's ruby (with the
json-stream shim, as ../shared/cyberdojo/README.md shows) and by core/script_checks.py over
the same folder; stderr and the exit code must be equal. Then through `startpoints create`
itself, the script's own first line before them.

The folder is laid out as the create script lays out its image (/app/repos/INDEX/…, a
shas.txt), at a path as deep as /app/repos, since the checkers print each manifest's path
from its fifth part on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from startpoints.core import script_checks
from tests.conftest import CYBERDOJO, EXAMPLES, git

CHECK_ALL = CYBERDOJO / "start-points-base" / "app" / "src" / "from_script" / "check_all.rb"
pytestmark = pytest.mark.skipif(
    shutil.which("ruby") is None or not CHECK_ALL.exists(),
    reason=f"needs ruby (Debian package ruby) and {CHECK_ALL}",
)
MANIFEST = "start_point/manifest.json"
BIG = "x" * (25 * 1024 + 1)
Files = dict[str, Any]  # path in the source → text, or a manifest as a dict


def language(**changes: Any) -> Files:
    """examples/python-pytest as a repository holds it, its manifest changed (None drops)."""
    folder = EXAMPLES / "python-pytest" / "start_point"
    files: Files = {f"start_point/{p.name}": p.read_text() for p in folder.iterdir()}
    loaded = json.loads(files[MANIFEST])
    loaded["image_name"] = "ghcr.io/cyber-dojo-languages/python_pytest:7aa5992"
    files[MANIFEST] = _changed(loaded, changes)
    return files


def exercise(**changes: Any) -> Files:
    loaded = {"display_name": "Fizz Buzz", "visible_filenames": ["readme.txt"]}
    return {"readme.txt": "Write a function.\n", "manifest.json": _changed(loaded, changes)}


def _changed(loaded: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is _DROP:
            loaded.pop(key, None)
        else:
            loaded[key] = value
    return loaded


_DROP = object()
L = language
VIS = ["test_hiker.py", "hiker.py", "cyber-dojo.sh"]

# (id, sources): each source a repository's files; every title of language_manifest_checker.rb
LANGUAGE_CASES: list[tuple[str, list[Files]]] = [
    ("valid", [L()]),
    ("unknown keys", [L(colour="red", size=1)]),
    ("missing keys", [L(image_name=_DROP, display_name=_DROP)]),
    ("image_name an integer", [L(image_name=42)]),
    ("image_name an array", [L(image_name=[1, "a", None, True, 1.5])]),
    ("image_name a hash", [L(image_name={"a": 1, "b": [None]})]),
    ("image_name true", [L(image_name=True)]),
    ("image_name false is let be", [L(image_name=False)]),
    ("image_name null is let be", [L(image_name=None)]),
    ("image_name malformed", [L(image_name="UPPER/Case")]),
    ("image_name with a space", [L(image_name="a b")]),
    ("image_name with a quote", [L(image_name='a"b')]),
    ("image_name a local registry", [L(image_name="localhost:5000/x/y:1")]),
    ("image_name a digest", [L(image_name="x/y@sha256:" + "a" * 64)]),
    ("display_name an integer", [L(display_name=5)]),
    ("display_name empty", [L(display_name="")]),
    ("display_name a float", [L(display_name=1e20)]),
    ("visible_filenames a string", [L(visible_filenames="cyber-dojo.sh")]),
    ("visible_filenames false", [L(visible_filenames=False)]),
    ("visible_filenames empty", [L(visible_filenames=[])]),
    ("visible_filenames not strings", [L(visible_filenames=[None, 1, [2], *VIS])]),
    ("visible_filenames an empty name", [L(visible_filenames=["", *VIS])]),
    ("visible_filenames non-portable", [L(visible_filenames=["a b!.py", "ö", *VIS])]),
    ("visible_filenames a leading dash", [L(visible_filenames=["-x", *VIS])]),
    ("visible_filenames a missing file", [L(visible_filenames=["nope.py", *VIS])]),
    (
        "visible_filenames too large",
        [{**L(visible_filenames=["big.txt", *VIS]), "start_point/big.txt": BIG}],
    ),
    ("visible_filenames without cyber-dojo.sh", [L(visible_filenames=["hiker.py"])]),
    ("visible_filenames duplicates", [L(visible_filenames=[*VIS, "hiker.py", "hiker.py"])]),
    ("filename_extension an integer", [L(filename_extension=5)]),
    ("filename_extension empty", [L(filename_extension=[])]),
    ("filename_extension not strings", [L(filename_extension=[".py", 1])]),
    ("filename_extension an empty string", [L(filename_extension="")]),
    ("filename_extension empty strings", [L(filename_extension=["", ".py", ""])]),
    ("filename_extension dotless", [L(filename_extension=["py", ".x", "c"])]),
    ("filename_extension only a dot", [L(filename_extension=[".", ".py"])]),
    ("filename_extension duplicates", [L(filename_extension=[".h", ".c", ".h"])]),
    ("filename_extension false is let be", [L(filename_extension=False)]),
    ("hidden_filenames a string", [L(hidden_filenames="x")]),
    ("hidden_filenames null", [L(hidden_filenames=None)]),
    ("hidden_filenames not strings", [L(hidden_filenames=[1])]),
    ("hidden_filenames an empty one", [L(hidden_filenames=[""])]),
    ("hidden_filenames a bad regexp", [L(hidden_filenames=["(", "ok", "[z-a]"])]),
    ("hidden_filenames ruby's regexps", [L(hidden_filenames=[r"\h+", r"(?<n>x)\k<n>", r"a\z"])]),
    ("hidden_filenames duplicates", [L(hidden_filenames=["a", "b", "a"])]),
    ("tab_size a string", [L(tab_size="4")]),
    ("tab_size a float", [L(tab_size=4.0)]),
    ("tab_size zero", [L(tab_size=0)]),
    ("tab_size nine", [L(tab_size=9)]),
    ("tab_size null", [L(tab_size=None)]),
    ("tab_size true", [L(tab_size=True)]),
    ("tab_size huge", [L(tab_size=1e20)]),
    ("max_seconds a string", [L(max_seconds="10")]),
    ("max_seconds 21", [L(max_seconds=21)]),
    ("max_seconds a list", [L(max_seconds=[1])]),
    ("highlight_filenames empty", [L(highlight_filenames=[])]),
    ("highlight_filenames not visible", [L(highlight_filenames=["nope", "hiker.py", "gone"])]),
    ("highlight_filenames not strings", [L(highlight_filenames=[1])]),
    ("highlight_filenames duplicates", [L(highlight_filenames=["hiker.py", "hiker.py"])]),
    ("progress_regexs a string", [L(progress_regexs="x")]),
    ("progress_regexs one", [L(progress_regexs=["a"])]),
    ("progress_regexs not strings", [L(progress_regexs=[1, 2])]),
    ("progress_regexs an empty one", [L(progress_regexs=["", "b"])]),
    ("progress_regexs bad regexps", [L(progress_regexs=["(", "[b"])]),
    ("rag_lambda an integer", [L(rag_lambda=5)]),
    ("rag_lambda false", [L(rag_lambda=False)]),
    ("rag_lambda empty", [L(rag_lambda="")]),
    ("rag_lambda missing", [L(rag_lambda="nope.rb")]),
    ("language a string", [L(language="Python")]),
    ("language one", [L(language=["Python"])]),
    ("language not strings", [L(language=[1, None])]),
    ("language an empty name", [L(language=["", "3"])]),
    ("test_framework a hash", [L(test_framework={"a": 1})]),
    ("language without test_framework", [L(test_framework=_DROP)]),
    ("test_framework without language", [L(language=_DROP)]),
    (
        "many faults, in the checkers' order",
        [
            L(
                colour=1,
                tab_size=0,
                image_name=42,
                display_name="",
                max_seconds="x",
                visible_filenames=["nope", "cyber-dojo.sh"],
                filename_extension="py",
            )
        ],
    ),  # fmt: skip
    ("a display name twice, across sources", [L(), L(), L(display_name="Other")]),
    ("two sources, faults in each", [L(tab_size=0), L(display_name="Other", max_seconds=0)]),
    ("no display name, twice", [L(display_name=_DROP), L(display_name=_DROP)]),
    ("no manifest in a source", [L(tab_size=0), {"readme.txt": "nothing here\n"}]),
    (
        "duplicate keys",
        [L(tab_size=0), {MANIFEST: '{"b": 1, "a": 1, "a": 2, "b": 3, "c": {"d": 1, "d": 2}}'}],
    ),
]
EXERCISE_CASES: list[tuple[str, list[Files]]] = [
    ("valid", [exercise()]),
    ("unknown keys", [exercise(image_name="x/y", tab_size=4)]),
    ("missing keys", [exercise(display_name=_DROP, visible_filenames=_DROP)]),
    ("display_name an integer", [exercise(display_name=5)]),
    ("display_name empty", [exercise(display_name="")]),
    ("visible_filenames empty", [exercise(visible_filenames=[])]),
    ("visible_filenames a hash", [exercise(visible_filenames={"a": "b"})]),
    ("visible_filenames with cyber-dojo.sh", [{**exercise(visible_filenames=["readme.txt", "cyber-dojo.sh"]), "cyber-dojo.sh": "x"}]),
    ("visible_filenames duplicates", [exercise(visible_filenames=["readme.txt", "readme.txt"])]),
    ("visible_filenames a missing file", [exercise(visible_filenames=["nope.txt"])]),
    ("a display name twice", [exercise(), exercise()]),
    ("several in one source", [{"a/manifest.json": {"display_name": "A", "visible_filenames": ["r"]}, "a/r": "x",
                                 "b/manifest.json": {"display_name": "", "visible_filenames": ["r"]}, "b/r": "x"}]),
]  # fmt: skip


@pytest.fixture
def root() -> Iterator[Path]:
    """As deep as /app/repos: the checkers print a manifest's path from its fifth part on."""
    made = Path(tempfile.mkdtemp(prefix="sp-", dir="/tmp"))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def lay_out(root: Path, sources: list[Files]) -> list[tuple[int, str]]:
    urls = []
    for i, files in enumerate(sources):
        for path, content in files.items():
            file = root / str(i) / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(content if isinstance(content, str) else json.dumps(content))
        urls.append((i, f"https://github.com/cyber-dojo-start-points/sp-{i}"))
    (root / "shas.txt").write_text("".join(f"{i} \t {'0' * 40} \t {url}\n" for i, url in urls))
    return urls


def rubys(root: Path, kind: str) -> tuple[list[str], int]:
    done = subprocess.run(
        ["ruby", "-I", str(CYBERDOJO / "shim"), str(CHECK_ALL), str(root), kind],
        capture_output=True,
        text=True,
    )
    return done.stderr.splitlines(), done.returncode


def assert_same(root: Path, sources: list[Files], kind: str) -> list[str]:
    urls = lay_out(root, sources)
    expected, code = rubys(root, kind)
    found = script_checks.check(root, urls, kind)  # type: ignore[arg-type]
    assert (found.lines, found.code or 0) == (expected, code)
    return expected


@pytest.mark.parametrize(("case", "sources"), LANGUAGE_CASES, ids=[c[0] for c in LANGUAGE_CASES])
@pytest.mark.parametrize("kind", ["languages", "custom"])
def test_language_checks_word_for_word(
    root: Path, case: str, sources: list[Files], kind: str
) -> None:
    assert_same(root, sources, kind)


@pytest.mark.parametrize(("case", "sources"), EXERCISE_CASES, ids=[c[0] for c in EXERCISE_CASES])
def test_exercise_checks_word_for_word(root: Path, case: str, sources: list[Files]) -> None:
    assert_same(root, sources, "exercises")


def test_every_title_of_the_checkers_is_met(root: Path) -> None:
    """The cases above meet every title the checkers can print (read from their source)."""
    import re

    titles = set()
    for rb in CHECK_ALL.parent.glob("*.rb"):
        found = re.findall(r"title = ['\"](.*?)['\"]$", rb.read_text(), re.M)
        titles |= {t.replace('\\"', '"') for t in found}
    titles.remove("bad JSON in manifest.json file")  # its own test, below
    assert len(titles) >= 40  # every title read, not a pattern that reads none
    printed = set()
    for kind, cases in (("languages", LANGUAGE_CASES), ("exercises", EXERCISE_CASES)):
        for i, (_, sources) in enumerate(cases):
            lay_out(root / f"{kind}{i}", sources)
            lines = script_checks.check(
                root / f"{kind}{i}", [(j, "u") for j in range(len(sources))], kind
            ).lines  # type: ignore[arg-type]
            printed |= {
                line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR: ")
            }
    unmet = [
        t
        for t in titles
        if not any(re.fullmatch(re.sub(r"\\#\\\{.*?\\\}", ".*", re.escape(t)), p) for p in printed)
    ]
    assert unmet == []


@pytest.mark.parametrize("text", ['{"display_name": ', "[1, 2", '{"a": 1,}'])
def test_bad_json_is_worded_as_the_checkers_word_it_but_for_the_parser_message(
    root: Path, text: str
) -> None:
    """Ruby's json gem words a parse error its own way (`unexpected token at …`); the rest of
    the output, and the exit code 17, are the same."""
    urls = lay_out(root, [language(tab_size=0), {MANIFEST: text}])
    expected, code = rubys(root, "languages")
    found = script_checks.check(root, urls, "languages")
    assert code == found.code == 17
    assert found.lines[:-1] == expected[: len(found.lines) - 1]
    assert found.lines[-2] == "manifest='start_point/manifest.json'"


@pytest.mark.parametrize(
    ("kind", "sources"),
    [
        ("languages", [language(tab_size=0, image_name=[1, 2])]),
        ("exercises", [exercise(), exercise()]),
    ],
)
def test_create_prints_the_scripts_first_line_then_the_checkers_lines(
    tmp_path: Path, root: Path, kind: str, sources: list[Files]
) -> None:
    """Through `startpoints create` with git repositories as the script clones them: its
    stderr is `ERROR: Failed to build NAME` then, line for line, what the checkers print
    (their urls the repositories as given)."""
    repos = []
    for i, files in enumerate(sources):
        repo = tmp_path / f"repo{i}"
        for path, content in files.items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(content if isinstance(content, str) else json.dumps(content))
        git(repo, "init", "-q", "-b", "master")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "start point")
        repos.append(repo)
        shutil.copytree(repo, root / str(i), ignore=shutil.ignore_patterns(".git"))
    (root / "shas.txt").write_text(
        "".join(f"{i} \t {'0' * 40} \t {r}\n" for i, r in enumerate(repos))
    )
    expected, code = rubys(root, kind)
    name = f"oci:{tmp_path / 'layout'}:cdsp/created:1"
    done = subprocess.run(
        [sys.executable, "-m", "startpoints", "create", name, f"--{kind}", *map(str, repos), "--base", "none"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert code != 0 and done.returncode == code
    assert done.stderr.splitlines() == [f"ERROR: Failed to build {name}", *expected]
