"""A local folder as a source: a start point folder, or a repo (or tree) holding them, taken
as it is on disk; a dirty git work tree is used with a warning, as `--languages $PWD` wants."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from startpoints import git
from startpoints.core import paths
from startpoints.core.provenance import Provenance
from startpoints.errors import UnsafeContent
from startpoints.oci.stores import Stores
from startpoints.oci.unpack import Budget
from startpoints.sources.source import Say

START_POINT = "start_point"


@dataclass(frozen=True)
class DirSource:
    text: str
    path: Path

    def fetch(self, into: Path, stores: Stores, say: Say) -> Provenance:
        if not self.path.is_dir():
            raise UnsafeContent(f"{self.text}: not a folder")
        budget = Budget.for_start_point(stores.limits)
        # A language repo: only its start_point/ (not docker/ and its jars); else the tree
        # as it is (a start point folder, or a custom or exercises tree of many).
        if (self.path / START_POINT).is_dir():
            copy_tree(self.path / START_POINT, into / START_POINT, budget, self.text)
        else:
            copy_tree(self.path, into, budget, self.text)

        revision = repository = created = None
        if git.is_repo(self.path):
            commit = git.resolve(self.path)
            revision, created, repository = commit.sha, commit.created, git.origin_url(self.path)
            if git.is_dirty(self.path):
                say(f"warning: {self.text}: uncommitted changes are included")
        return Provenance(
            self.text, "dir", revision=revision, repository=repository, created=created
        )


def copy_tree(source: Path, into: Path, budget: Budget, where: str, *, link: bool = False) -> None:
    """Copy files, folders and inward links, skipping .git; refuse links leaving `source`.
    `link`: hard-link each file rather than copy it (falling back to a copy across
    filesystems), for a `source` that is ours alone and read-only from now on."""
    root = source.resolve()
    into.mkdir(parents=True, exist_ok=True)
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        here = Path(dirpath)
        for name in sorted(dirs + files):
            path = here / name
            relative = path.relative_to(root)
            target = into / relative
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                try:
                    paths.check_link(root, path)
                except paths.Outside as error:
                    raise UnsafeContent(
                        f"{where}: {relative}: symlink leaves the folder: it {error}"
                    ) from None
                budget.spend(0, where)
                target.symlink_to(os.readlink(path))
            elif stat.S_ISDIR(mode):
                budget.spend(0, where)
                target.mkdir()
            elif stat.S_ISREG(mode):
                budget.spend(path.stat().st_size, where)
                if link and _linked(path, target):
                    continue
                shutil.copyfile(path, target)
                target.chmod(0o755 if mode & 0o111 else 0o644)
            else:
                raise UnsafeContent(f"{where}: {relative}: not a regular file, folder or link")


def _linked(path: Path, target: Path) -> bool:
    try:
        os.link(path, target, follow_symlinks=False)
    except OSError:  # another filesystem, or links refused there
        return False
    return True
