"""The catalog as cyber-dojo serves it, computed once from a catalog folder.

A served manifest has `visible_filenames` replaced by `visible_files` with each file's
content, `filename_extension` always a list, and `rag_lambda` replaced by its file's
content. Names follow cyber-dojo's rule (catalog.served_names).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from startpoints.core import catalog, lint, manifest, paths, strictjson
from startpoints.core.manifest import Kind
from startpoints.core.problem import Problem
from startpoints.core.reference import parse
from startpoints.core.words import count
from startpoints.errors import BadReference, InvalidStartPoint, StartpointsError

PROVENANCE_FIELDS = (
    "image_digest",
    "image_size",
    "start_point_image",
    "start_point_digest",
    "source",
    "revision",
    "index",
)


@dataclass(frozen=True)
class Served:
    kind: str
    manifests: dict[str, dict[str, Any]]  # served name → served manifest
    start_points: list[dict[str, Any]]
    aliases: dict[str, str] = field(default_factory=dict)  # raw display_name → served name
    # served name → the source repository's URL, where the catalog records one (the status
    # page links revisions to it; /start_points keeps its documented fields)
    repositories: dict[str, str] = field(default_factory=dict)
    replaces: str | None = None  # the catalog this one replaced, NAME:TAG@DIGEST (rollback)
    # served name → its manifest.json in the catalog folder (assemble --previous copies it)
    files: dict[str, str] = field(default_factory=dict)
    # The names the catalog this one replaced served and this one does not (assemble
    # --previous): /manifest answers them as that catalog did, for a client that listed
    # them there mid-rollout; /names and /manifests do not list them.
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    previous_start_points: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answered(self) -> dict[str, dict[str, Any]]:
        """Every name /manifest answers: the served ones, then the previous catalog's."""
        return {**self.previous, **self.manifests}

    @property
    def names(self) -> list[str]:
        return sorted(self.manifests)

    @property
    def image_names(self) -> list[str]:
        return sorted(
            {str(m["image_name"]) for m in self.manifests.values() if m.get("image_name")}
        )

    @property
    def image_sizes(self) -> dict[str, int]:
        """Each language image's compressed size, where the catalog records one (assemble
        looks it up): what a node must fetch, known without asking a registry."""
        return {
            str(sp["image_name"]): int(sp["image_size"])
            for sp in self.start_points
            if sp.get("image_name") and isinstance(sp.get("image_size"), int)
        }

    @property
    def image_digests(self) -> dict[str, str]:
        """Each language image's digest, where the catalog records one: what every node
        must hold under its tag, whatever the tag names later."""
        digests: dict[str, str] = {}
        for sp in self.start_points:
            if sp.get("image_name") and isinstance(sp.get("image_digest"), str):
                digests.setdefault(str(sp["image_name"]), sp["image_digest"])
        return digests

    def manifest(self, name: str) -> dict[str, Any] | None:
        """By served name first, then by raw display_name, as cyber-dojo looks them up; a
        previous name too."""
        answered = self.answered
        return answered.get(name) or answered.get(self.aliases.get(name, ""))

    @property
    def identity(self) -> str:
        """A digest of everything served, to key state (a pre-pull marker) to this catalog."""
        return (
            "sha256:"
            + hashlib.sha256(json.dumps(self.manifests, sort_keys=True).encode()).hexdigest()
        )


def load(folder: Path, kind: Kind = "languages") -> Served:
    """Read a catalog folder (catalog.json beside 0/ 1/ ...), or any folder of start points
    (no provenance then, and of `kind`: such a folder does not say). A served catalog is
    untrusted like any image: every start point is checked by the rules assemble applies,
    and the catalog is refused whole, each problem named, when any fails. Every file read
    stays inside its start point's folder."""
    index = _index(folder, kind)
    checked, problems = _checked(folder, index.records, index.kind)
    problems += catalog.problems([catalog.Entry(str(r["manifest"]), m) for m, _, r in checked])
    previous, previous_problems = _checked(folder, index.previous, index.kind)
    problems += previous_problems
    if problems:
        raise InvalidStartPoint(
            f"{folder}: {count(len(problems), 'problem')}; not served", list(problems)
        )
    names = catalog.served_names([loaded for loaded, _, _ in checked])
    found = Served(index.kind, {}, [], replaces=index.replaces)
    for name, (loaded, directory, record) in zip(names, checked, strict=True):
        if name in found.manifests:
            raise StartpointsError(f"{directory}: served name {name!r} is not unique")
        _add(found, name, loaded, directory, record)
        found.aliases[str(loaded.get("display_name"))] = name
        if isinstance(record.get("repository"), str):
            found.repositories[name] = record["repository"]
    for loaded, directory, record in previous:
        given = record.get("name")
        if not isinstance(given, str) or not given or found.manifest(given) is not None:
            raise StartpointsError(
                f"{folder / catalog.INDEX}: previous {record['manifest']}: its name "
                f"{str(given)[:80]!r} must be a name this catalog does not answer"
            )
        _add(found, given, loaded, directory, record, previous=True)
        found.aliases.setdefault(str(loaded.get("display_name")), given)
    found.start_points.sort(key=lambda s: s["name"])
    found.previous_start_points.sort(key=lambda s: s["name"])
    return found


def _checked(
    folder: Path, records: list[dict[str, Any]], kind: Kind
) -> tuple[list[tuple[dict[str, Any], Path, dict[str, Any]]], list[Problem]]:
    """Each record's start point checked: its manifest, the folder holding it and the record;
    and every problem found."""
    problems: list[Problem] = []
    checked: list[tuple[dict[str, Any], Path, dict[str, Any]]] = []
    for record in records:
        file = str(record["manifest"])
        try:
            path = paths.inside(folder, folder / file)
        except paths.Outside as error:
            problems.append(Problem(file, f"the manifest {error}"))
            continue
        loaded, found = manifest.check_dir(path.parent, kind, file)
        problems += found
        if loaded is not None:
            checked.append((loaded, path.parent, record))
    return checked, problems


def _add(
    found: Served,
    name: str,
    loaded: dict[str, Any],
    directory: Path,
    record: dict[str, Any],
    *,
    previous: bool = False,
) -> None:
    """One start point into `found`: served by `name`, or answered as a previous one."""
    served = serve_manifest(loaded, directory)
    served["display_name"] = name
    entry = _start_point(name, loaded, record)
    if previous:
        found.previous[name] = served
        found.previous_start_points.append({**entry, "previous": True})
    else:
        found.manifests[name] = served
        found.start_points.append(entry)
    found.files[name] = str(record["manifest"])


@dataclass(frozen=True)
class _Index:
    kind: Kind
    records: list[dict[str, Any]]
    replaces: str | None = None
    previous: list[dict[str, Any]] = field(default_factory=list)


def _index(folder: Path, kind: Kind) -> _Index:
    """The kind, records, replaced catalog and previous records of catalog.json, each
    checked; or, with no catalog.json, every start point found under `folder`."""
    index_path = folder / catalog.INDEX
    if not index_path.is_file():
        found = [d / manifest.MANIFEST for d in lint.find_start_points(folder)]
        if not found:
            raise StartpointsError(f"{folder}: holds no manifest.json")
        return _Index(kind, [{"manifest": str(p.relative_to(folder))} for p in found])
    where = str(index_path)
    try:
        index = strictjson.loads_bounded(paths.inside(folder, index_path).read_bytes())
    except (OSError, ValueError, paths.Outside) as error:
        raise StartpointsError(f"{where}: cannot be read: {str(error)[:200]}") from None
    if not isinstance(index, dict):
        raise StartpointsError(f"{where}: must hold a JSON object")
    said = index.get("kind", "languages")  # catalog.json says its kind
    if said not in manifest.KINDS:
        raise StartpointsError(f"{where}: kind {str(said)[:40]!r} is not one of {manifest.KINDS}")
    records = _records(index.get("start_points"), f"{where}: start_points")
    replaces = index.get("replaces")
    if replaces is not None and not isinstance(replaces, str):
        raise StartpointsError(f"{where}: replaces must be a string, the catalog image replaced")
    previous = index.get("previous", {"start_points": []})
    if not isinstance(previous, dict):
        raise StartpointsError(f"{where}: previous must be an object")
    # In the order cyber-dojo's server finds them in the same folder (lint.find_start_points):
    # 0, 1, 10, 11, ..., 2, by path name by name, not by index.
    ordered = sorted(records, key=lambda r: lint.glob_order(PurePosixPath(r["manifest"])))
    return _Index(
        said, ordered, replaces, _records(previous.get("start_points"), f"{where}: previous")
    )


def _records(records: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and isinstance(r.get("manifest"), str) for r in records
    ):
        raise StartpointsError(f"{where} must be a list of objects, each with a manifest path")
    return records


def serve_manifest(loaded: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The manifest as served; its files are read through the containment check. Keys keep
    the file's order, `visible_files` coming last, where cyber-dojo's server puts it."""
    served: dict[str, Any] = {}
    for key, value in loaded.items():
        if key == "visible_filenames":
            continue
        if key == "filename_extension":
            served[key] = [value] if isinstance(value, str) else list(value)
        elif key == "rag_lambda":
            served[key] = _text(folder, value)
        else:
            served[key] = value
    names = loaded.get("visible_filenames") or []
    served["visible_files"] = {name: {"content": _text(folder, name)} for name in names}
    return served


def _start_point(name: str, loaded: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    image_name = loaded.get("image_name")
    entry = {"name": name, "display_name": loaded.get("display_name"), "image_name": image_name}
    entry.update({key: record.get(key) for key in PROVENANCE_FIELDS})
    entry["source"] = record.get("source")
    if entry["image_digest"] is None and image_name:
        entry["image_digest"] = _digest_from(record.get("language_image"), str(image_name))
    return entry


def _digest_from(pinned: Any, image_name: str) -> str | None:
    """The digest in a start-point image's `NAME:sha7@sha256:...` annotation, when it names
    the same image the manifest does."""
    if not isinstance(pinned, str):
        return None
    try:
        ref = parse(pinned)
        if ref.digest and str(ref.with_tag(ref.tag or "")) == image_name:
            return ref.digest
    except BadReference:
        pass
    return None


def _text(folder: Path, name: str) -> str:
    try:
        return paths.inside(folder, folder / name).read_text(encoding="utf-8", errors="replace")
    except paths.Outside as error:
        raise StartpointsError(f"{folder / name}: not served: it {error}") from None
    except OSError as error:
        raise StartpointsError(f"{folder / name}: cannot be served: {error.strerror}") from None
