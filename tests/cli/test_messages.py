"""What a user reads: one plain line per problem, in the words of the thing they typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from startpoints.cli.main import main
from tests.conftest import EXAMPLES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("verb", [["serve"], ["pull"], ["assemble"]])
def test_a_missing_folder_says_no_such_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verb: list[str]
) -> None:
    missing = str(tmp_path / "nope")
    code, _, err = run(capsys, *verb, missing)
    assert code == 1
    assert f"{missing}: no such folder" in err
    assert "reference" not in err and "lowercase" not in err  # not the image-name grammar


def test_create_names_a_bad_source_before_looking_for_an_engine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    code, _, err = run(capsys, "create", "cdsp/mine", "--languages", str(tmp_path / "nope"))
    assert code == 1
    assert "no such folder" in err and "engine" not in err.lower()


def test_assemble_with_nowhere_to_write_says_nothing_was_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "assemble", str(EXAMPLES / "bash-bats"))
    assert code == 0
    assert (
        "1 start point (languages): checked, nothing written (give --output DIR or --tag REF)"
        in err
    )


def test_counts_read_right(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "assemble", str(EXAMPLES / "bash-bats"), "--output", str(tmp_path / "c")
    )
    assert code == 0 and "1 start point (languages)\n" in err and "1 start points" not in err
    code, _, err = run(
        capsys, "assemble", str(EXAMPLES / "bash-bats"), str(EXAMPLES / "python-pytest"),
        "--output", str(tmp_path / "d"),
    )  # fmt: skip
    assert code == 0 and "2 start points (languages)" in err
