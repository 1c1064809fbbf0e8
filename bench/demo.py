"""Benchmark: `make demo` as a new user times it, from a fresh clone until the service
answers, cold (no venv: the install is part of it) and warm (venv already made). The
reference, measured in the same run on the same clone: the cold install `make demo` used to
do, the test extras (`pip install -e '.[test]'`). pip's own download cache is whatever this
machine has (warm after the first run anywhere on it); say so when recording.

Run: .venv/bin/python bench/demo.py
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = 4524


def serving() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/names", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def demo_until_served(clone: Path, env: dict[str, str] | None = None) -> float:
    """Seconds from `make demo` to the first answer from /names; then Ctrl-C, as a user would."""
    assert not serving(), f"something already answers on port {PORT}"
    started = time.perf_counter()
    process = subprocess.Popen(
        ["make", "-s", "demo"],
        cwd=clone,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = started + 600
        while not serving():
            if process.poll() is not None:
                raise SystemExit(f"make demo exited {process.returncode} before serving")
            if time.perf_counter() > deadline:
                raise SystemExit("make demo did not serve within 600 s")
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "startpoints"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        uncached = demo_until_served(clone, {"PIP_NO_CACHE_DIR": "1"})
        shutil.rmtree(clone / ".venv")
        cold = demo_until_served(clone)
        warm = demo_until_served(clone)
        shutil.rmtree(clone / ".venv")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(clone / ".venv")], check=True)
        subprocess.run(
            [
                str(clone / ".venv/bin/pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-e",
                ".[test]",
            ],
            cwd=clone,
            check=True,
        )
        with_test_extras = time.perf_counter() - started
    print(f"make demo, cold, pip's cache unused (all downloaded): {uncached:6.1f} s until served")
    print(
        f"make demo, cold (venv made, runtime dependencies installed): {cold:6.1f} s until served"
    )
    print(
        f"make demo, warm (venv there):                                {warm:6.1f} s until served"
    )
    print(
        f"reference: venv + pip install -e '.[test]' alone (the old cold install): {with_test_extras:6.1f} s"
    )
    print(f"cold demo / old install alone: {cold / with_test_extras:.2f}")


if __name__ == "__main__":
    main()
