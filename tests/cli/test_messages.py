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


def test_serve_announces_serving_only_once_the_port_is_bound(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    command = [sys.executable, "-m", "startpoints", "serve", str(EXAMPLES / "bash-bats")]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    finally:
        taken.close()
    assert done.returncode != 0
    assert "serving" not in done.stderr and "address already in use" in done.stderr.lower()


def test_once_serving_is_announced_the_port_answers() -> None:
    import subprocess
    import sys
    import urllib.request

    from tests.servers import free_port

    port = free_port()
    command = [sys.executable, "-m", "startpoints", "serve", str(EXAMPLES / "bash-bats")]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("serving"):
                break
        assert line == f"serving 1 start point (languages) on 127.0.0.1:{port}\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/alive", timeout=5) as answer:
            assert answer.status == 200  # no wait between the announcement and the answer
    finally:
        process.terminate()
        process.wait(timeout=10)


# create's help is the create script's own (tests/workflows/test_create_help.py)
@pytest.mark.parametrize("verb", ["lint", "publish", "assemble", "serve", "pull", "k8s"])
def test_help_shows_positionals_defaults_and_an_example(
    capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([verb, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "positional arguments:" in text
    positionals = text.split("positional arguments:")[1].split("\n\n")[0].strip().splitlines()
    assert positionals and all(len(line.split(None, 1)) == 2 for line in positionals), positionals
    assert f"example:\n  startpoints {verb} " in text
    if verb in ("assemble", "serve", "pull"):
        assert "(default: " in text
