"""Update: pin each start-point image line of a list to the newest published start point of
its language repo, as `repo:sha7@sha256:...`.

sha7 tags cannot be ranked (Renovate and Dependabot cannot, renovate#6913) and registries
have no "newest", so the order comes from git: the newest commit on the source repository's
default branch (the image's `org.opencontainers.image.source`) whose sha7 is a published tag.
Registry traffic per line: one manifest GET of the image named now (its annotations say where
it came from), a tag list and a HEAD for the digest; Docker Hub counts only the GET. Git
traffic: a treeless clone, commits only. Comments, blank lines, order and other source kinds
(git URLs, folders) are kept as they are.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from startpoints import git, sources
from startpoints.core.reference import Reference
from startpoints.errors import StartpointsError
from startpoints.oci import read
from startpoints.oci.stores import Stores

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


@dataclass(frozen=True)
class Result:
    text: str
    changes: list[Change]

    @property
    def behind(self) -> bool:
        return any(change.behind for change in self.changes)


def update(text: str, stores: Stores, say: Say = lambda _: None) -> Result:
    """`text`, a list as `assemble --from` reads it, with each image line pinned to newest."""
    lines = text.splitlines(keepends=True)
    changes = []
    for number, line in enumerate(lines, 1):
        body, hash_, comment = line.partition("#")
        token = body.strip()
        if not token:
            continue
        source = sources.parse(token)
        ref = getattr(source, "ref", None)
        if not isinstance(ref, Reference) or ref.is_layout:
            continue  # git URLs and folders are left alone
        pinned, repository = _newest(ref, stores, say)
        new = str(pinned)
        if new == token:
            continue
        behind = pinned.tag != ref.tag
        lead = body[: len(body) - len(body.lstrip())]
        tail = body[len(lead) + len(token) :]
        lines[number - 1] = lead + new + tail + hash_ + comment
        changes.append(Change(number, token, new, behind, repository))
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


def as_json(result: Result) -> str:
    return json.dumps(
        [
            {"line": c.line, "old": c.old, "new": c.new, "behind": c.behind, "source": c.source}
            for c in result.changes
        ]
    )
