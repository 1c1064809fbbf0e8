"""The exit code cyber-dojo's `start-point create` gives for a set of manifest problems, as its
checkers (`check_all.rb` and the `check_*.rb` it runs) assign them, so scripts that branch on
it keep working. tests/workflows/test_create_codes.py runs those checkers beside ours.

Their order decides which code wins: a source with no manifest.json at all stops everything
(16); then manifest by manifest, in source order and then path order, bad JSON (17) or
duplicate keys (18) stop at once; otherwise every problem's code is collected in the checkers'
order, the catalog-wide duplicate display names last, and the first one collected is the exit
code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from startpoints.core.manifest import Kind
from startpoints.core.problem import Problem

NO_MANIFEST, BAD_JSON, DUPLICATE_KEYS = 16, 17, 18

# rule → code, in the order the checkers run (languages and custom share one checker)
_LANGUAGE = {
    "unknown_key": 20, "missing_key": 21, "image_name": 30, "display_name": 31,
    "visible_filenames": 32, "filename_extension": 33, "hidden_filenames": 40, "tab_size": 41,
    "max_seconds": 42, "highlight_filenames": 43, "progress_regexs": 44, "rag_lambda": 45,
    "language": 46, "test_framework": 47, "pairing": 48,
}  # fmt: skip
_EXERCISE = {"unknown_key": 50, "missing_key": 51, "display_name": 60, "visible_filenames": 61}
_DUPLICATE_DISPLAY_NAMES = {"languages": 40, "custom": 40, "exercises": 90}
_STOPPING = {"unreadable": BAD_JSON, "duplicate_keys": DUPLICATE_KEYS}


def exit_code(problems: Sequence[Problem], kind: Kind) -> int:
    """The code cyber-dojo's create would exit with for these problems (1 when none maps)."""
    if any(p.rule == "no_manifest" for p in problems):
        return NO_MANIFEST
    codes = _EXERCISE if kind == "exercises" else _LANGUAGE
    order = list(codes.values())
    collected: list[tuple[tuple[object, ...], int]] = []
    stopping: list[tuple[tuple[object, ...], int]] = []
    for problem in problems:
        where = _manifest_order(problem.file)
        if problem.rule == "duplicate_display_name":
            collected.append(((1,), _DUPLICATE_DISPLAY_NAMES[kind]))
        elif problem.rule in _STOPPING:
            stopping.append(((0, where), _STOPPING[problem.rule]))
        elif (code := codes.get(problem.rule)) is not None:
            collected.append(((0, where, order.index(code)), code))
    if stopping:  # the checkers exit at the first of these, whatever came before
        return min(stopping, key=lambda item: item[0])[1]
    if not collected:
        return 1
    return min(collected, key=lambda item: item[0])[1]


def _manifest_order(file: str) -> tuple[object, ...]:
    """Source index first (the staging folder's number), then the path name by name."""
    parts = PurePosixPath(file).parts
    head = int(parts[0]) if parts and parts[0].isdigit() else 0
    return (head, *parts[1:])
