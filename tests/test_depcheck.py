"""Dependencies point one way: core imports nothing above it, and each third-party I/O
library is confined to one adapter module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "startpoints"


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", [p for p in modules() if "core" in p.parts], ids=lambda p: p.name)
def test_core_imports_only_core_and_errors(path: Path) -> None:
    ours = {m for m in imports(path) if m.startswith("startpoints")}
    assert all(m.startswith("startpoints.core") or m == "startpoints.errors" for m in ours), ours


@pytest.mark.parametrize("path", [p for p in modules() if "oci" in p.parts], ids=lambda p: p.name)
def test_oci_does_not_reach_up(path: Path) -> None:
    ours = {m for m in imports(path) if m.startswith("startpoints")}
    assert not {m for m in ours if m.startswith(("startpoints.workflows", "startpoints.cli"))}


@pytest.mark.parametrize(
    ("library", "homes"),
    [
        ("oras", ["oci/registry.py"]),
        (
            "requests",
            ["oci/engine.py", "oci/registry.py"],
        ),  # in engine.py: the docker SDK's transport errors
        ("docker", ["oci/engine.py"]),
        ("starlette", ["http/app.py"]),
        ("uvicorn", ["http/server.py"]),
    ],
)
def test_third_party_io_library_lives_in_one_adapter(library: str, homes: list[str]) -> None:
    users = [
        p.relative_to(SRC).as_posix()
        for p in modules()
        if any(m.split(".")[0] == library for m in imports(p))
    ]
    assert users == homes


def test_nothing_in_the_library_imports_the_cli() -> None:
    offenders = [
        p.relative_to(SRC).as_posix()
        for p in modules()
        if "cli" not in p.parts
        and p.name != "__main__.py"
        and any(m.startswith("startpoints.cli") for m in imports(p))
    ]
    assert offenders == []
