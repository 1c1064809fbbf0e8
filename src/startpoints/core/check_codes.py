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

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from startpoints.core.manifest import Kind
from startpoints.core.problem import Problem

NO_MANIFEST, BAD_JSON, DUPLICATE_KEYS = 16, 17, 18

# key → code, in the order the checkers run (languages and custom share one checker)
_LANGUAGE = {
    "unknown": 20, "required": 21, "image_name": 30, "display_name": 31,
    "visible_filenames": 32, "filename_extension": 33, "hidden_filenames": 40, "tab_size": 41,
    "max_seconds": 42, "highlight_filenames": 43, "progress_regexs": 44, "rag_lambda": 45,
    "language": 46, "test_framework": 47, "pairing": 48,
}  # fmt: skip
_EXERCISE = {"unknown": 50, "required": 51, "display_name": 60, "visible_filenames": 61}
_DUPLICATE_DISPLAY_NAMES = {"languages": 40, "custom": 40, "exercises": 90}
_KEY = re.compile(r"^([a-z_]+)")


def exit_code(problems: Sequence[Problem], kind: Kind) -> int:
    """The code cyber-dojo's create would exit with for these problems (1 when none maps)."""
    if any(p.reason == "holds no manifest.json" for p in problems):
        return NO_MANIFEST
    codes = _EXERCISE if kind == "exercises" else _LANGUAGE
    order = list(codes.values())
    collected: list[tuple[tuple[object, ...], int]] = []
    for problem in problems:
        if _is_catalog_wide(problem):
            collected.append(((1,), _DUPLICATE_DISPLAY_NAMES[kind]))
            continue
        where = _manifest_order(problem.file)
        if problem.reason.startswith(("bad JSON", "cannot be read", "must hold a JSON object")):
            collected.append(((0, where, -1), BAD_JSON))
        elif "each key may appear once" in problem.reason:
            collected.append(((0, where, -1), DUPLICATE_KEYS))
        elif (code := _code(problem, codes)) is not None:
            collected.append(((0, where, order.index(code)), code))
    stopping = [item for item in collected if item[1] in (BAD_JSON, DUPLICATE_KEYS)]
    if stopping:  # the checkers exit at the first of these, whatever came before
        return min(stopping, key=lambda item: item[0])[1]
    if not collected:
        return 1
    return min(collected, key=lambda item: item[0])[1]


def _code(problem: Problem, codes: dict[str, int]) -> int | None:
    if problem.key is None:
        if problem.reason.startswith("unknown key"):
            return codes["unknown"]
        if problem.reason.startswith("missing required key"):
            return codes["required"]
        return None
    if "both or neither" in problem.reason:
        return codes.get("pairing")
    match = _KEY.match(problem.key)
    return codes.get(match.group(1)) if match else None


def _is_catalog_wide(problem: Problem) -> bool:
    return problem.key == "display_name" and problem.reason.startswith("is not unique")


def _manifest_order(file: str) -> tuple[object, ...]:
    """Source index first (the staging folder's number), then the path name by name."""
    parts = PurePosixPath(file).parts
    head = int(parts[0]) if parts and parts[0].isdigit() else 0
    return (head, *parts[1:])
