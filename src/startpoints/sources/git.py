"""A `sha7@git-url` source (cyber-dojo's form): that exact commit's tree, without .git; or a
plain git URL, the tip of its master branch, else main, as cyber-dojo's create script takes it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from startpoints import git
from startpoints.core.provenance import Provenance
from startpoints.oci.stores import Stores
from startpoints.sources.directory import START_POINT
from startpoints.sources.source import Say


@dataclass(frozen=True)
class GitSource:
    text: str
    sha7: str | None  # None: the default branch's tip
    url: str

    def fetch(self, into: Path, stores: Stores, say: Say) -> Provenance:
        with tempfile.TemporaryDirectory(prefix="startpoints-git-", dir=into.parent) as tmp:
            repo = Path(tmp) / "repo.git"
            commit = (
                git.fetch(self.url, self.sha7, repo)
                if self.sha7
                else git.fetch_default_branch(self.url, repo)
            )
            into.mkdir(parents=True, exist_ok=True)
            # only start_point/ when the repo has one (the jars stay on the server)
            folder = START_POINT if git.is_folder(repo, commit, START_POINT) else None
            git.export(repo, commit, folder, into)

        return Provenance(
            source=self.text,
            source_kind="git",
            revision=commit.sha,
            repository=git.strip_credentials(self.url),
            created=commit.created,
        )
