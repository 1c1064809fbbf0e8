"""JSON loading for untrusted text: nesting depth bounded before parsing (Python's parser
recurses, so 100k `[` is a RecursionError, not a ValueError), the non-JSON constants
NaN/Infinity refused, and for manifests duplicate keys refused at any depth."""

from __future__ import annotations

import json
import re
from typing import Any

from startpoints.core.limits import DEFAULT

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    pass


def check_depth(text: str, max_depth: int = DEFAULT.json_depth) -> None:
    """Raise TooDeep when arrays and objects nest more than `max_depth` deep."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > max_depth:
            raise TooDeep(f"nested more than {max_depth} deep")


def loads_bounded(data: str | bytes, max_depth: int = DEFAULT.json_depth) -> Any:
    """Parse untrusted JSON; every failure is a ValueError (bad UTF-8, too deep, not JSON)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    check_depth(text, max_depth)

    return _BOUNDED.decode(text)


class DuplicateKeys(ValueError):
    def __init__(self, keys: list[str]) -> None:
        super().__init__("duplicate keys " + ", ".join(f'"{k}"' for k in keys))
        self.keys = keys


def loads(text: str) -> Any:
    """Parse `text`; raise DuplicateKeys for any repeated key, ValueError for bad JSON."""
    check_depth(text)
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    value = json.loads(text, object_pairs_hook=pairs, parse_constant=_constant, parse_float=_finite)
    if duplicates:
        raise DuplicateKeys(duplicates)
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON number too large for a float (1e999) would become inf, which JSON cannot say."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large a number")
    return value


# made once: json.loads with hooks builds a decoder per call, a third of a small parse
_BOUNDED = json.JSONDecoder(parse_constant=_constant, parse_float=_finite)
