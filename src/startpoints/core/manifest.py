"""cyber-dojo's manifest.json rules (from start-points-base's checker), all problems reported at once.

cyber-dojo's own quirks are treated as bugs, not rules: a null value fails its type
check, `../x` and `/x` fail the filename rule, and duplicate keys are refused at any depth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from startpoints.core import named_file, paths, reference, strictjson
from startpoints.core.problem import Problem
from startpoints.errors import BadReference

Kind = Literal["languages", "custom", "exercises"]
KINDS: tuple[Kind, ...] = ("languages", "custom", "exercises")
MANIFEST = "manifest.json"
MAX_VISIBLE_FILE_BYTES = 25 * 1024
CYBER_DOJO_SH = "cyber-dojo.sh"

LANGUAGE_REQUIRED = ("display_name", "visible_filenames", "image_name", "filename_extension")
LANGUAGE_OPTIONAL = (
    "hidden_filenames", "highlight_filenames", "progress_regexs", "rag_lambda",
    "tab_size", "max_seconds", "language", "test_framework",
)  # fmt: skip
EXERCISE_REQUIRED = ("display_name", "visible_filenames")


# A reason about one key: (key, value, reason); value is left out when it adds nothing.
Finding = tuple[str, Any, str]
_Rule = Callable[[Any, dict[str, Any], Path, Kind], Iterator[Finding]]


def required_keys(kind: Kind) -> tuple[str, ...]:
    return EXERCISE_REQUIRED if kind == "exercises" else LANGUAGE_REQUIRED


def known_keys(kind: Kind) -> tuple[str, ...]:
    return EXERCISE_REQUIRED if kind == "exercises" else LANGUAGE_REQUIRED + LANGUAGE_OPTIONAL


def load(path: Path, file: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Read a manifest.json strictly; `file` is how problems name it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(file, f"cannot be read: {error}", rule="unreadable")]
    try:
        value = strictjson.loads(text)
    except strictjson.DuplicateKeys as error:
        return None, [Problem(file, f"{error}: each key may appear once", rule="duplicate_keys")]
    except ValueError as error:
        return None, [Problem(file, f"bad JSON: {error}", rule="unreadable")]
    if not isinstance(value, dict):
        why = f"must hold a JSON object, not {_type_name(value)}"
        return None, [Problem(file, why, rule="unreadable")]
    return value, []


def check(manifest: dict[str, Any], directory: Path, kind: Kind, file: str) -> list[Problem]:
    """Every problem with one manifest whose files live in `directory`."""
    try:
        # Resolved once here, so each file check resolves only its own name from it.
        directory = paths.real(directory)
    except paths.Outside as error:
        return [Problem(file, f"its folder {error}")]
    problems = [
        Problem(file, f'unknown key "{k}"', rule="unknown_key")
        for k in manifest
        if k not in known_keys(kind)
    ]
    problems += [
        Problem(file, f'missing required key "{k}"', rule="missing_key")
        for k in required_keys(kind)
        if k not in manifest
    ]
    for key, rule in _RULES.items():
        if key in manifest and key in known_keys(kind):
            problems += [
                Problem(file, why, k, v, rule=key)
                for k, v, why in rule(manifest[key], manifest, directory, kind)
            ]
    problems += [
        Problem(file, why, k, v, rule="pairing") for k, v, why in _language_pairing(manifest)
    ]
    return problems


def check_dir(
    directory: Path, kind: Kind, file: str | None = None
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Load and check `directory`/manifest.json."""
    file = file or str(directory / MANIFEST)
    manifest, problems = load(directory / MANIFEST, file)
    if manifest is None:
        return None, problems
    return manifest, check(manifest, directory, kind, file)


# --- the rules, one per key -------------------------------------------------------------


def _image_name(value: Any, _m: dict[str, Any], _d: Path, _k: Kind) -> Iterator[Finding]:
    if not isinstance(value, str):
        yield "image_name", value, "must be a string"
        return
    try:
        parsed = reference.parse(value)
    except BadReference as error:
        yield "image_name", value, f"is malformed: {error}"
        return
    if parsed.is_layout:
        yield "image_name", value, "must name a registry image, not an oci: layout"


def _display_name(value: Any, _m: dict[str, Any], _d: Path, _k: Kind) -> Iterator[Finding]:
    if not isinstance(value, str):
        yield "display_name", value, "must be a string"
    elif value == "":
        yield "display_name", value, "cannot be empty"


def _visible_filenames(
    value: Any, _m: dict[str, Any], directory: Path, kind: Kind
) -> Iterator[Finding]:
    key = "visible_filenames"
    if not isinstance(value, list):
        yield key, value, "must be a list of filenames"
        return
    if not value:
        yield key, value, "cannot be empty"
        return
    for i, name in enumerate(value):
        yield from _filename(f"{key}[{i}]", name, directory, MAX_VISIBLE_FILE_BYTES)
    yield from _duplicates(key, value)
    if kind == "languages" and CYBER_DOJO_SH not in value:
        yield key, value, f'must include "{CYBER_DOJO_SH}"'
    if kind == "exercises" and CYBER_DOJO_SH in value:
        yield key, value, f'cannot include "{CYBER_DOJO_SH}"'


def _filename_extension(value: Any, _m: dict[str, Any], _d: Path, _k: Kind) -> Iterator[Finding]:
    key = "filename_extension"
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(x, str) for x in items):
        yield key, value, "must be a string or a non-empty list of strings"
        return
    for i, ext in enumerate(items):
        where = key if isinstance(value, str) else f"{key}[{i}]"
        if ext == "":
            yield where, ext, "cannot be empty"
        elif not ext.startswith("."):
            yield where, ext, "must start with a dot"
        elif ext == ".":
            yield where, ext, "must be more than just a dot"
    yield from _duplicates(key, items)


def _hidden_filenames(value: Any, _m: dict[str, Any], _d: Path, _k: Kind) -> Iterator[Finding]:
    key = "hidden_filenames"
    if not isinstance(value, list):
        yield key, value, "must be a list of regex strings"
        return
    yield from _regexes(key, value)
    yield from _duplicates(key, value)


def _highlight_filenames(
    value: Any, manifest: dict[str, Any], _d: Path, _k: Kind
) -> Iterator[Finding]:
    key = "highlight_filenames"
    if not isinstance(value, list) or not value:
        yield key, value, "must be a non-empty list of filenames"
        return
    visible = manifest.get("visible_filenames")
    visible = visible if isinstance(visible, list) else []
    for i, name in enumerate(value):
        if not isinstance(name, str) or name == "":
            yield f"{key}[{i}]", name, "must be a non-empty string"
        elif name not in visible:
            yield f"{key}[{i}]", name, "is not in visible_filenames"
    yield from _duplicates(key, value)


def _progress_regexs(value: Any, _m: dict[str, Any], _d: Path, _k: Kind) -> Iterator[Finding]:
    key = "progress_regexs"
    if not isinstance(value, list) or len(value) != 2:
        yield key, value, "must be a list of exactly 2 regex strings"
        return
    yield from _regexes(key, value)


def _int_range(key: str, low: int, high: int) -> _Rule:
    def rule(value: Any, _m: dict[str, Any], _d: Path, _k: Kind) -> Iterator[Finding]:
        # bool is an int in Python; JSON true is not a number.
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            yield key, value, f"must be an integer from {low} to {high}"

    return rule


def _rag_lambda(value: Any, _m: dict[str, Any], directory: Path, _k: Kind) -> Iterator[Finding]:
    if not isinstance(value, str):
        yield "rag_lambda", value, "must be a string naming a file"
        return
    yield from _filename("rag_lambda", value, directory, None)


def _name_version(key: str) -> _Rule:
    def rule(value: Any, _m: dict[str, Any], _d: Path, _k: Kind) -> Iterator[Finding]:
        if not isinstance(value, list) or len(value) != 2:
            yield key, value, "must be a list of 2 strings: [name, version]"
            return
        for i, item in enumerate(value):
            if not isinstance(item, str):
                yield f"{key}[{i}]", item, "must be a string"
        if value[0] == "":
            yield f"{key}[0]", value[0], "the name cannot be empty"

    return rule


def _language_pairing(manifest: dict[str, Any]) -> Iterator[Finding]:
    has_language, has_framework = "language" in manifest, "test_framework" in manifest
    if has_language != has_framework:
        present, absent = (
            ("language", "test_framework") if has_language else ("test_framework", "language")
        )
        yield present, manifest[present], f'needs "{absent}" too: both or neither'


_RULES: dict[str, _Rule] = {
    "display_name": _display_name,
    "image_name": _image_name,
    "visible_filenames": _visible_filenames,
    "filename_extension": _filename_extension,
    "hidden_filenames": _hidden_filenames,
    "highlight_filenames": _highlight_filenames,
    "progress_regexs": _progress_regexs,
    "tab_size": _int_range("tab_size", 1, 8),
    "max_seconds": _int_range("max_seconds", 1, 20),
    "rag_lambda": _rag_lambda,
    "language": _name_version("language"),
    "test_framework": _name_version("test_framework"),
}


# --- shared checks ----------------------------------------------------------------------


def _filename(key: str, name: Any, directory: Path, max_bytes: int | None) -> Iterator[Finding]:
    if (why := named_file.problem(name, directory, max_bytes)) is not None:
        yield key, name, why


def _duplicates(key: str, items: list[Any]) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        marker = json.dumps(item, sort_keys=True)
        if marker in first:
            yield f"{key}[{first[marker]}, {i}]", item, "are duplicates"
        else:
            first[marker] = i


def _regexes(key: str, items: list[Any]) -> Iterator[Finding]:
    for i, item in enumerate(items):
        if not isinstance(item, str) or item == "":
            yield f"{key}[{i}]", item, "must be a non-empty regex string"
            continue
        try:
            re.compile(item)
        except re.error as error:
            yield f"{key}[{i}]", item, f"is not a valid regex: {error}"
        except (OverflowError, RecursionError, ValueError, MemoryError):
            # a{99999999999} overflows; thousands of nested groups recurse too deep
            yield f"{key}[{i}]", item, "is not a usable regex: too large or nested too deep"


def _type_name(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
