"""`startpoints create`, `-h` and `--help`: the create script's own show_use, word for word
(its base image being the startpoints service image, as `cyber-dojo start-point create` fills
in its own), then startpoints' own options in one block after it; exit 0. And the two
variables it names do what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from startpoints import __version__
from tests.conftest import CYBERDOJO, EXAMPLES, git

SCRIPT = CYBERDOJO / "commander" / "start-point-create.sh"


def show_use() -> str:
    """What the script prints: show_use's here-document, its placeholders filled in."""
    text = SCRIPT.read_text()
    body = re.search(r"show_use\(\)\n\{\n  cat <<-'EOF'\n(.*?)\nEOF\n", text, re.S)
    assert body is not None, f"{SCRIPT}: no show_use here-document"
    return (
        body.group(1)
        .replace("CYBER_DOJO_START_POINTS_BASE_IMAGE_REPLACED", "ghcr.io/cyber-dojo/startpoints")
        .replace("CYBER_DOJO_START_POINTS_BASE_TAG_REPLACED", f"v{__version__}")
        + "\n"
    )


def create(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "startpoints", "create", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"needs {SCRIPT}")
@pytest.mark.parametrize("args", [[], ["-h"], ["--help"]])
def test_help_is_the_scripts_show_use_then_our_own_options(args: list[str]) -> None:
    done = create(*args)
    assert done.returncode == 0 and done.stderr == ""
    use = show_use()
    assert done.stdout.startswith(use)
    own = done.stdout[len(use) :]
    assert own.startswith("  startpoints' own") and "--push" in own and "--base REF" in own
    assert len(own.splitlines()) <= 12  # one short block


def test_the_base_image_variables_the_help_names_are_used(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for file in (EXAMPLES / "python-pytest" / "start_point").iterdir():
        (repo / file.name).write_bytes(file.read_bytes())
    git(repo, "init", "-q", "-b", "master")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start point")
    name = f"oci:{tmp_path / 'layout'}:eg/first:1"
    done = create(
        name, "--languages", str(repo),
        CYBER_DOJO_START_POINTS_BASE_IMAGE="127.0.0.1:9/cdl/base", CYBER_DOJO_START_POINTS_BASE_TAG="e8f8d56",
    )  # fmt: skip
    assert done.returncode != 0
    assert "127.0.0.1:9/cdl/base:e8f8d56" in done.stderr  # the base looked for, by its name


BAD_ARGS = CYBERDOJO / "start-points-base" / "app" / "src" / "from_script" / "bad_args.rb"


@pytest.mark.skipif(
    not BAD_ARGS.exists() or not Path("/usr/bin/ruby").exists(), reason=f"needs ruby and {BAD_ARGS}"
)
@pytest.mark.parametrize(
    "words",
    [
        "--languages x", "--custom x", "--exercises", "jj", "jj x", "jj --custom",
        "jj --exercises", "jj --languages", "jj --custom a a", "jj --exercises a b a",
        "jj --languages a b a b c c", "Bad/Name --languages a", "a..b --languages a",
        "localhost:5000/x/y:1 --languages a", "x/y@sha256:abc --languages a", "-x --languages a",
        "UPPER.host/x --languages a", "x/y:" + "t" * 129 + " --languages a", "a__b/c --custom a",
    ],
)  # fmt: skip
def test_bad_arguments_are_said_and_coded_as_bad_args_rb_and_the_script_say_them(
    words: str,
) -> None:
    """bad_args.rb, run as the script runs it, then the script's `ERROR: bad args`; exit its code."""
    ruby = subprocess.run(["ruby", str(BAD_ARGS), *words.split()], capture_output=True, text=True)
    done = create(*words.split(), DOCKER_HOST="unix:///nonexistent")
    if ruby.returncode:
        assert (done.returncode, done.stderr) == (
            ruby.returncode,
            ruby.stderr + "ERROR: bad args\n",
        )
    else:  # good arguments: past the checks (then no engine here)
        assert done.returncode not in range(4, 15) and "bad args" not in done.stderr
