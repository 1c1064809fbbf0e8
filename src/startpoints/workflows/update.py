"""Update: pin each start-point image line of a list to the newest published start point of
its language repo, as `repo:sha7@sha256:...`.

sha7 tags cannot be ranked (Renovate and Dependabot cannot, renovate#6913) and registries
have no "newest", so the order comes from git: the newest commit on the source repository's
default branch (the image's `org.opencontainers.image.source`) whose sha7 is a published tag.
Registry traffic per line: one manifest GET of the image named now (its annotations say where
it came from), a tag list and a HEAD for the digest; Docker Hub counts only the GET. Git
traffic: a treeless clone, commits only. Comments, blank lines, order and other source kinds
(git URLs, folders) are kept as they are.

Migration (`migrate_to`): cyber-dojo's list today is `sha7@https://github.com/OWNER/REPO`
lines. Once a start-points repository's CI publishes, its commit sha7 is a tag of
`REGISTRY/owner/repo` (the reusable workflow's default), so each git line whose exact commit
is published becomes that image, pinned: the same start point, fetched as an image. A line not
yet published stays a git line (side by side). One HEAD per git line.
"""

from __future__ import annotations

import json
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from startpoints import git, sources
from startpoints.core import reference
from startpoints.core.reference import Reference
from startpoints.errors import StartpointsError
from startpoints.oci import read
from startpoints.oci.stores import Stores
from startpoints.sources.git import GitSource

SOURCE = "org.opencontainers.image.source"
REVISION = "org.opencontainers.image.revision"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Change:
    line: int  # 1-based
    old: str
    new: str
    behind: bool  # a newer start point was published (not only a pin added)
    source: str | None = None
    migrated: bool = False  # a git line, now its published start-point image


@dataclass(frozen=True)
class Result:
    text: str
    changes: list[Change]

    @property
    def behind(self) -> bool:
        return any(change.behind for change in self.changes)


def update(
    text: str, stores: Stores, say: Say = lambda _: None, migrate_to: str | None = None
) -> Result:
    """`text`, a list as `assemble --from` reads it, with each image line pinned to newest,
    and with `migrate_to` (a registry), each git line whose commit is published as an image."""
    lines = text.splitlines(keepends=True)
    changes = []
    for number, line in enumerate(lines, 1):
        body, hash_, comment = line.partition("#")
        token = body.strip()
        if not token:
            continue
        source = sources.parse(token)
        if isinstance(source, GitSource):
            if migrate_to is None or source.sha7 is None:
                continue
            published = _published(source.sha7, source.url, migrate_to, stores)
            if published is None:
                say(f"{token}: not published as {_image_of(source.url, migrate_to)}; kept")
                continue
            pinned, repository, behind, migrated = published, source.url, True, True
        elif isinstance(ref := getattr(source, "ref", None), Reference) and not ref.is_layout:
            pinned, repository = _newest(ref, stores, say)
            behind, migrated = pinned.tag != ref.tag, False
        else:
            continue  # folders and layouts are left alone
        new = str(pinned)
        if new == token:
            continue
        lead = body[: len(body) - len(body.lstrip())]
        tail = body[len(lead) + len(token) :]
        lines[number - 1] = lead + new + tail + hash_ + comment
        changes.append(Change(number, token, new, behind, repository, migrated))
    return Result("".join(lines), changes)


def _newest(ref: Reference, stores: Stores, say: Say) -> tuple[Reference, str]:
    """The newest published start point of `ref`'s source repo, pinned; and that repo."""
    store = stores.for_ref(ref)
    manifest, _ = read.image_manifest(store, ref, stores.limits)
    annotations = manifest.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    url = annotations.get(SOURCE)
    if not isinstance(url, str) or not url:
        raise StartpointsError(f"{ref}: names no source repository ({SOURCE}); cannot update")
    if not hasattr(store, "tags"):
        raise StartpointsError(f"{ref}: not in a registry; only registry images are updated")
    tags = set(store.tags(ref))
    with tempfile.TemporaryDirectory(prefix=".startpoints-update-") as tmp:
        history = git.default_branch_history(url, Path(tmp) / "repo")
    newest = next((sha[:7] for sha in history if sha[:7] in tags), None)
    if newest is None:
        raise StartpointsError(
            f"{ref}: no commit of {git.strip_credentials(url)}'s default branch is published as "
            f"a tag of {ref.name}"
        )
    tagged = ref.with_tag(newest)  # with_tag drops the old digest
    found = store.resolve(tagged)
    if found is None:
        raise StartpointsError(f"{tagged}: listed, yet not found")
    say(f"{ref.name}: {ref.tag or '-'} -> {newest} ({git.strip_credentials(url)})")
    return tagged.with_digest(found.digest), url


def _image_of(url: str, registry: str) -> str:
    """`https://github.com/OWNER/REPO(.git)` → `REGISTRY/owner/repo`: where the reusable
    workflow publishes that repository's start points (ghcr.io names are lower case)."""
    path = urllib.parse.urlsplit(url).path if "://" in url else url.rpartition(":")[2]
    parts = [part for part in path.removesuffix("/").removesuffix(".git").split("/") if part]
    if len(parts) < 2:
        raise StartpointsError(f"{url}: names no OWNER/REPO to find its start-point image by")
    return f"{registry}/{parts[-2]}/{parts[-1]}".lower()


def _published(sha7: str, url: str, registry: str, stores: Stores) -> Reference | None:
    ref = reference.parse(f"{_image_of(url, registry)}:{sha7}")
    found = stores.for_ref(ref).resolve(ref)
    return None if found is None else ref.with_digest(found.digest)


def as_json(result: Result) -> str:
    return json.dumps(
        [
            {
                "line": c.line,
                "old": c.old,
                "new": c.new,
                "behind": c.behind,
                "source": c.source,
                "migrated": c.migrated,
            }
            for c in result.changes
        ]
    )
