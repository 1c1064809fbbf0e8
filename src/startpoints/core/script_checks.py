"""cyber-dojo's create-script checks, in their words and order: what `start-point create`
prints on stderr for a set of start points, and the exit code it gives.

The checkers (start-points-base's `from_script/check_all.rb`, run over the cloned sources)
print each fault as `ERROR: <title>`, `--<kind> <url>`, `manifest='<path in the source>'` and a
line with the key and its value as Ruby shows it (core/rubyish.py). Within a manifest a check
stops at its first failing step where they chain steps (`ok &&= …`), goes on where they do
not; bad JSON (17) and duplicate keys (18) stop everything at once, a source with no
manifest.json (16) before anything is checked; duplicate display names come last. The exit
code is the first fault's. tests/workflows/test_script_checks.py runs the Ruby beside this.

This is for `create` only: `lint`, `publish` and `assemble` keep their own, stricter rules
(core/manifest.py), which `create` still applies after these.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from startpoints.core import lint
from startpoints.core.manifest import MANIFEST, Kind
from startpoints.core.rubyish import inspect, to_s
from startpoints.core.script_rules import Rules

_LANGUAGE_KEYS = (
    "display_name", "visible_filenames", "hidden_filenames", "image_name", "filename_extension",
    "highlight_filenames", "progress_regexs", "rag_lambda", "tab_size", "max_seconds",
    "language", "test_framework",
)  # fmt: skip
_LANGUAGE_REQUIRED = ("display_name", "visible_filenames", "image_name", "filename_extension")
_EXERCISE_KEYS = ("display_name", "visible_filenames")


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    code: int | None = None  # None: no fault


class _Stop(Exception):
    """The checkers' `exit(code)` midway: bad JSON, duplicate keys, no manifest at all."""

    def __init__(self, code: int) -> None:
        self.code = code


def check(root: Path, sources: Sequence[tuple[int, str]], kind: Kind) -> Report:
    """The faults in `root`'s index folders (`root/INDEX/…`), each source named by its url."""
    checker = _Checker(kind)
    try:
        checker.all(root, sources)
    except _Stop as stop:
        checker.codes.insert(0, stop.code)
    return Report(checker.lines, checker.codes[0] if checker.codes else None)


class _Checker(Rules):
    """The walk: sources, then their manifests in glob order, then display names."""

    def all(self, root: Path, sources: Sequence[tuple[int, str]]) -> None:
        found: dict[str, list[Path]] = {}
        for index, url in sources:
            folder = root / str(index)
            files = (
                [d / MANIFEST for d in lint.find_start_points(folder)] if folder.is_dir() else []
            )
            if not files:
                self.lines += ["ERROR: no manifest.json files in", f"--{self.kind} {url}"]
                raise _Stop(16)
            found[url] = files
        display_names: dict[str, tuple[Any, list[tuple[str, str]]]] = {}
        for url, files in found.items():
            for path in files:
                self.url, self.file = url, path.relative_to(root).as_posix().partition("/")[2]
                loaded = self._json(path)
                self._one(loaded, path.parent)
                name = loaded.get("display_name")
                display_names.setdefault(json.dumps(name), (name, []))[1].append((url, self.file))
        for name, places in display_names.values():
            if len(places) > 1:
                self.lines.append("ERROR: display_name duplicate")
                for url, file in places:
                    self.lines += [f"--{self.kind} {url}", f"manifest='{file}'"]
                    self.lines.append(f'"display_name": "{to_s(name)}"')
                self.codes.append(90 if self.kind == "exercises" else 40)

    # --- one manifest ---------------------------------------------------------------------

    def _json(self, path: Path) -> dict[str, Any]:
        duplicates: list[str] = []

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [k for k, _ in items]
            duplicates[:] = sorted({k for k in keys if keys.count(k) > 1})  # the outermost last
            return dict(items)

        try:
            loaded = json.loads(path.read_bytes(), object_pairs_hook=pairs)
        except (ValueError, RecursionError) as error:
            self._show("bad JSON in manifest.json file", str(error))
            raise _Stop(17) from None
        if duplicates:
            self._show("duplicate keys in manifest.json file", inspect(duplicates))
            raise _Stop(18)
        if not isinstance(loaded, dict):  # the Ruby stops with a NoMethodError here
            self._show("bad JSON in manifest.json file", "not a JSON object")
            raise _Stop(17)
        return loaded

    def _one(self, m: dict[str, Any], folder: Path) -> None:
        exercises = self.kind == "exercises"
        known = _EXERCISE_KEYS if exercises else _LANGUAGE_KEYS
        required = _EXERCISE_KEYS if exercises else _LANGUAGE_REQUIRED
        for key in m:
            if key not in known:
                self._show(f'unknown key "{key}"')
                self.codes.append(50 if exercises else 20)
        for key in required:
            if key not in m:
                self._show(f'missing required key "{key}"')
                self.codes.append(51 if exercises else 21)
        if exercises:
            self._display_name(m, 60)
            self._visible_filenames(m, folder, 61)
            return
        self._image_name(m, 30)
        self._display_name(m, 31)
        self._visible_filenames(m, folder, 32)
        self._filename_extension(m, 33)
        self._names("hidden_filenames", m, 40, regexps=True)
        self._integer("tab_size", m, 8, 41)
        self._integer("max_seconds", m, 20, 42)
        self._highlight_filenames(m, 43)
        self._progress_regexs(m, 44)
        self._rag_lambda(m, folder, 45)
        self._name_version("language", m, 46)
        self._name_version("test_framework", m, 47)
        if ("language" in m) != ("test_framework" in m):
            present, missing = (
                ("language", "test_framework")
                if "language" in m
                else ("test_framework", "language")
            )
            self._fault(
                "language and test_framework must both be present or both absent",
                f'has "{present}" but not "{missing}"',
                48,
            )
