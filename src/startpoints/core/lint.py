"""Find the start points under some folders and check each, and all of them together."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from startpoints.core import catalog, manifest
from startpoints.core.manifest import Kind
from startpoints.core.problem import Problem


@dataclass
class Report:
    entries: list[catalog.Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def find_start_points(path: Path) -> list[Path]:
    """Every folder at or under `path` that holds a manifest.json, at any depth, a folder's
    own included, as cyber-dojo finds them (`Dir.glob("**/manifest.json")`): folders whose
    name starts with `.` (.git among them) are not searched, links to folders not followed.
    In its order: by the manifest file's path, name by name (so `0/deeper/x/manifest.json`
    comes before `0/manifest.json`, since "deeper" sorts before "manifest.json")."""
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if manifest.MANIFEST in files:
            found.append(Path(root))
    return sorted(found, key=lambda folder: glob_order(folder / manifest.MANIFEST))


def glob_order(manifest_path: PurePath) -> tuple[str, ...]:
    """Where a manifest comes in cyber-dojo's `Dir.glob` order: its path, name by name."""
    return manifest_path.parts


def lint(paths: Iterable[Path], kind: Kind) -> Report:
    report = Report()
    for path in paths:
        if not path.exists():
            report.problems.append(Problem(str(path), "does not exist"))
            continue
        dirs = find_start_points(path)
        if not dirs:
            report.problems.append(Problem(str(path), "holds no manifest.json", rule="no_manifest"))
        for directory in dirs:
            file = str(directory / manifest.MANIFEST)
            loaded, problems = manifest.check_dir(directory, kind, file)
            report.problems += problems
            if loaded is not None:
                report.entries.append(catalog.Entry(file, loaded))
    report.problems += catalog.problems(report.entries)
    return report
