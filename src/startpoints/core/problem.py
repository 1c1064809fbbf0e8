"""A Problem: one broken rule, naming the file, key and value concerned and what is wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

_NO_VALUE: Any = object()
RULES = (
    "no_manifest", "unreadable", "duplicate_keys", "unknown_key", "missing_key", "pairing",
    "duplicate_display_name", "unfetched",
)  # fmt: skip


@dataclass(frozen=True)
class Problem:
    file: str
    reason: str
    key: str | None = None
    value: Any = field(default=_NO_VALUE, compare=False)
    source: str | None = None
    # which check found it: a manifest key, or one of RULES below; cyber-dojo's exit codes
    # follow it (core/check_codes.py)
    rule: str = field(default="", compare=False)
    # a source that could not be fetched: what the fetching program said (git's own words),
    # and whether it was cloned but has not the commit (the create script's `git checkout`)
    detail: str | None = field(default=None, compare=False)
    checkout: bool = field(default=False, compare=False)

    def at(self, file: str) -> Problem:
        return replace(self, file=file)

    def from_source(self, source: str) -> Problem:
        return replace(self, source=source)

    @property
    def has_value(self) -> bool:
        return self.value is not _NO_VALUE

    @property
    def shown_value(self) -> str:
        """The value as JSON, cut short past 80 characters."""
        return _show(self.value)

    def __str__(self) -> str:
        where = f"{self.source}: {self.file}" if self.source else self.file
        parts = [where]
        if self.key is not None:
            shown = "" if self.value is _NO_VALUE else f"={_show(self.value)}"
            parts.append(f"{self.key}{shown}")
        parts.append(self.reason)
        return ": ".join(parts)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "key": self.key, "reason": self.reason}
        if self.value is not _NO_VALUE:
            out["value"] = self.value
        if self.source is not None:
            out["source"] = self.source
        return out


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
