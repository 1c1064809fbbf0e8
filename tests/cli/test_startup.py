"""Start-up: a verb builds only its own parser; --help and mistakes still see every verb."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from startpoints.cli.main import VERBS


def verbs_loaded(argv: list[str]) -> list[str]:
    code = (
        "import json, sys\n"
        "from startpoints.cli import main\n"
        f"try:\n    main.main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m.rsplit('.', 1)[1] for m in sys.modules"
        " if m.rsplit('.', 1)[0] == 'startpoints.cli' and m.rsplit('.', 1)[1] in main.VERBS)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("verb", ["lint", "assemble", "serve"])
def test_a_verb_loads_only_its_own_module(verb: str) -> None:
    assert verbs_loaded([verb, "--help"]) == [verb]


def test_version_loads_no_verb() -> None:
    assert verbs_loaded(["--version"]) == []


@pytest.mark.parametrize("argv", [["--help"], ["lnt"], []], ids=["help", "mistyped", "none"])
def test_help_and_mistakes_list_every_verb(argv: list[str]) -> None:
    assert verbs_loaded(argv) == sorted(VERBS)
    if argv:  # with none, argparse names only the missing COMMAND
        said = subprocess.run(
            [sys.executable, "-m", "startpoints", *argv], capture_output=True, text=True
        )
        assert all(verb in said.stdout + said.stderr for verb in VERBS)
