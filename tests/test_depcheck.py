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
            ["oci/engine.py", "oci/registry.py", "oci/transport.py"],
        ),  # in engine.py: the docker SDK's transport errors; in registry.py: oras' token request
        ("docker", ["oci/authn.py", "oci/engine.py"]),  # authn: docker.auth reads config.json
        ("urllib3", ["oci/transport.py"]),
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


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def every_import(path: Path) -> set[str]:
    """Every module a file imports, wherever the statement sits (`from a import b` counts as
    `a` and `a.b`, which may be a module), but not under TYPE_CHECKING, which runs nothing."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("startpoints")}


def test_imports_point_one_way() -> None:
    """No two modules import each other, directly or round a loop, wherever the import
    statement sits: shared helpers live in a module of their own (cli/common.py,
    sources/source.py) that imports neither side."""
    names = {module_name(p): p for p in modules() if "cri_api" not in p.parts}
    graph = {
        name: {m for m in every_import(path) if m in names and m != name}
        for name, path in names.items()
    }
    loops = []
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in visiting:
            loops.append(" -> ".join([*visiting[visiting.index(name) :], name]))
            return
        if name in done:
            return
        visiting.append(name)
        for other in sorted(graph[name]):
            visit(other)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert loops == []
