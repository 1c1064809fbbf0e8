"""Rules over a whole catalog of start points: unique display names, and the names it serves by."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from startpoints.core.problem import Problem


@dataclass(frozen=True)
class Entry:
    """One checked start point: where its manifest.json is and what it holds."""

    file: str
    manifest: dict[str, Any]
    source: str | None = None


def problems(entries: Sequence[Entry]) -> list[Problem]:
    """Catalog-wide problems: a display_name must be unique across the catalog."""
    by_name: dict[Any, list[Entry]] = {}
    for entry in entries:
        name = entry.manifest.get("display_name")
        if isinstance(name, str) and name:
            by_name.setdefault(name, []).append(entry)
    found = []
    for name, clashing in by_name.items():
        if len(clashing) > 1:
            others = ", ".join(_where(e) for e in clashing)
            found += [
                Problem(
                    e.file,
                    f"is not unique in the catalog: {others}",
                    "display_name",
                    name,
                    e.source,
                    rule="duplicate_display_name",
                )
                for e in clashing
            ]
    return found


def served_names(manifests: Sequence[dict[str, Any]]) -> list[str]:
    """cyber-dojo's naming rule: "<language>, <test_framework>" when every manifest has both and
    those names are unique, else each raw display_name."""
    pairs = [_language_framework(m) for m in manifests]
    names = [p for p in pairs if p is not None]
    if len(names) == len(manifests) and len(set(names)) == len(names):
        return names
    return [str(m.get("display_name")) for m in manifests]


def no_longer_served(names: Iterable[str], manifests: Sequence[dict[str, Any]]) -> list[str]:
    """Of `names` (those a previous catalog served), the ones a catalog of `manifests` answers
    by neither its served names nor its display_names: a version bump renames a start point."""
    answered = set(served_names(manifests)) | {str(m.get("display_name")) for m in manifests}
    return sorted(name for name in names if name not in answered)


def _language_framework(manifest: dict[str, Any]) -> str | None:
    language, framework = manifest.get("language"), manifest.get("test_framework")
    if isinstance(language, list) and isinstance(framework, list) and language and framework:
        return f"{language[0]}, {framework[0]}"
    return None


def _where(entry: Entry) -> str:
    return f"{entry.source} ({entry.file})" if entry.source else entry.file


INDEX = "catalog.json"  # beside the index folders 0/ 1/ 2/ ... of an assembled catalog
PORTS = {"languages": 4524, "exercises": 4525, "custom": 4526}  # cyber-dojo's, per kind


def index_json(
    kind: str,
    entries: Sequence[Entry],
    provenance: Sequence[dict[str, Any]],
    replaces: str | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The catalog index: every start point with where it came from, the catalog image it
    replaced (NAME:TAG@DIGEST) and the previous catalog's start points it still answers,
    where given. No timestamps of its own, so the same sources give the same bytes."""
    index: dict[str, Any] = {
        "kind": kind,
        "sources": pinned_sources(provenance),
        "start_points": [
            {
                "manifest": e.file,
                "display_name": e.manifest.get("display_name"),
                "image_name": e.manifest.get("image_name"),
                **p,
            }
            for e, p in zip(entries, provenance, strict=True)
        ],
    }
    if replaces is not None:
        index["replaces"] = replaces
    if previous is not None:
        index["previous"] = previous
    return index


def pinned_sources(provenance: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sources the catalog was built from, in order: each as given, and a start-point
    image's digest too (a `sha7@url` is pinned as given; a folder's content is not pinned).
    `assemble --from` a catalog rebuilds it from these, byte for byte."""
    pinned: dict[int, dict[str, Any]] = {}
    for record in provenance:
        index = int(record.get("index") or 0)
        digest = record.get("start_point_digest") if record.get("source_kind") == "image" else None
        pinned.setdefault(index, {"source": record.get("source"), "digest": digest})
    return [pinned[index] for index in sorted(pinned)]
