"""Diff: what changes between two catalogs, as a reviewer of a deploy wants it: start points
added and removed, and for each changed one its revision, language image and digest (old →
new) and the files of its start_point/ that differ. Text, JSON and Markdown (a pull-request
or release body)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from startpoints.core.served import Served

FIELDS = ("revision", "image_name", "image_digest", "start_point_image", "start_point_digest")
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Changed:
    name: str
    fields: dict[str, tuple[Any, Any]]  # field → (old, new), only those that differ
    files: list[str]  # start_point/ files that differ (manifest.json for its other keys)


@dataclass(frozen=True)
class Diff:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def compare(old: Served, new: Served) -> Diff:
    """Start points are matched by display_name: the served name depends on the rest of
    the catalog (cyber-dojo shortens a name only while it is unique), the display name not."""
    before = {sp["display_name"]: sp for sp in old.start_points}
    after = {sp["display_name"]: sp for sp in new.start_points}
    changed = []
    for name in sorted(before.keys() & after.keys()):
        fields = {
            key: (before[name].get(key), after[name].get(key))
            for key in FIELDS
            if before[name].get(key) != after[name].get(key)
        }
        files = _files(
            old.manifests.get(before[name]["name"]) or {},
            new.manifests.get(after[name]["name"]) or {},
        )
        if fields or files:
            changed.append(Changed(name, fields, files))
    return Diff(
        added=[after[name] for name in sorted(after.keys() - before.keys())],
        removed=[before[name] for name in sorted(before.keys() - after.keys())],
        changed=changed,
    )


def _files(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Served manifests hold each visible file's content: those that differ, by name."""
    a, b = old.get("visible_files") or {}, new.get("visible_files") or {}
    differ = sorted(n for n in a.keys() | b.keys() if a.get(n) != b.get(n))
    rest = {k: v for k, v in old.items() if k != "visible_files"}
    if rest != {k: v for k, v in new.items() if k != "visible_files"}:
        differ.insert(0, MANIFEST)
    return differ


def as_json(diff: Diff) -> str:
    return json.dumps(
        {
            "added": diff.added,
            "removed": diff.removed,
            "changed": [
                {**asdict(c), "fields": {k: list(v) for k, v in c.fields.items()}}
                for c in diff.changed
            ],
        },
        indent=2,
    )


def as_text(diff: Diff) -> str:
    if diff.empty:
        return "no change\n"
    lines = [
        f"+ {sp['name']}  {sp.get('image_name')}  {_short(sp.get('revision'))}" for sp in diff.added
    ]
    lines += [
        f"- {sp['name']}  {sp.get('image_name')}  {_short(sp.get('revision'))}"
        for sp in diff.removed
    ]
    for change in diff.changed:
        lines.append(f"~ {change.name}")
        for key, (was, now) in change.fields.items():
            lines.append(f"    {key}: {_shown(key, was)} -> {_shown(key, now)}")
        if change.files:
            lines.append(f"    files: {', '.join(change.files)}")
    return "\n".join(lines) + "\n"


def as_markdown(diff: Diff) -> str:
    """A pull-request or release body. Values are in code spans, so a name cannot inject
    markup; backticks inside them are replaced."""
    if diff.empty:
        return "No start point changes.\n"
    out = [
        f"**{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed**",
        "",
    ]
    if diff.added or diff.removed:
        out += ["| | start point | language image | revision |", "|---|---|---|---|"]
        out += [_row("added", sp) for sp in diff.added] + [
            _row("removed", sp) for sp in diff.removed
        ]
        out.append("")
    for change in diff.changed:
        out.append(f"### {_code(change.name)}")
        out += [
            f"- {key}: {_code(_shown(key, was))} → {_code(_shown(key, now))}"
            for key, (was, now) in change.fields.items()
        ]
        if change.files:
            out.append(f"- files changed: {', '.join(_code(f) for f in change.files)}")
        out.append("")
    return "\n".join(out)


def _line(sp: dict[str, Any]) -> str:
    return f"{sp['display_name']}  {sp.get('image_name')}  {_short(sp.get('revision'))}"


def _row(what: str, sp: dict[str, Any]) -> str:
    cells = [sp["display_name"], sp.get("image_name"), _short(sp.get("revision"))]
    return f"| {what} | " + " | ".join(_code(c) for c in cells) + " |"


def _code(value: Any) -> str:
    text = str(value if value is not None else "-").replace("`", "'").replace("\n", " ")
    return f"`{text}`"


def _short(revision: Any) -> str:
    return str(revision)[:7] if revision else "-"


def _shown(key: str, value: Any) -> str:
    return _short(value) if key == "revision" else str(value if value is not None else "-")
