"""JSON loading that refuses duplicate keys at any depth and the non-JSON constants NaN/Infinity."""

from __future__ import annotations

import json
from typing import Any


class DuplicateKeys(ValueError):
    def __init__(self, keys: list[str]) -> None:
        super().__init__("duplicate keys " + ", ".join(f'"{k}"' for k in keys))
        self.keys = keys


def loads(text: str) -> Any:
    """Parse `text`; raise DuplicateKeys for any repeated key, json.JSONDecodeError for bad JSON."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    if duplicates:
        raise DuplicateKeys(duplicates)
    return value
