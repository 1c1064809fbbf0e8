"""Progress per source on a terminal, and silence when stderr is not one."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES


def run_on_a_terminal(args: list[str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "startpoints", *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = process.wait(timeout=60)
    os.close(master)
    return code, b"".join(chunks).decode(errors="replace")


def test_assemble_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    code, terminal = run_on_a_terminal(
        [
            "assemble",
            str(EXAMPLES / "bash-bats"),
            str(EXAMPLES / "python-pytest"),
            "--output",
            str(tmp_path / "c"),
        ]
    )
    assert code == 0
    assert "assembling 2 sources" in terminal and "2/2" in terminal


def test_assemble_is_quiet_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "startpoints",
            "assemble",
            str(EXAMPLES / "bash-bats"),
            "--output",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert "assembling" not in done.stderr and "\x1b[" not in done.stderr
