"""Reading git repositories through the git command: commits, their time, and files at a commit."""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from startpoints.errors import GitError, UnsafeContent

_HEX = re.compile(r"[0-9a-f]{4,40}")


@dataclass(frozen=True)
class Commit:
    sha: str  # 40 hex
    created: str  # the commit time, RFC 3339 in UTC

    @property
    def sha7(self) -> str:
        return self.sha[:7]


def resolve(repo: Path, revision: str = "HEAD") -> Commit:
    """The commit `revision` names in `repo`."""
    if revision != "HEAD" and not _HEX.fullmatch(revision):
        raise GitError(f"{revision!r} is not a commit sha (4 to 40 lowercase hex digits)")
    return _commit(repo, revision, doing=f"reading commit {revision}")


def default_branch(repo: Path) -> Commit:
    """The tip of `repo`'s own master branch, else its main branch: the commit cyber-dojo's
    create script reads from a local repository (fetch_default_branch, without a clone)."""
    for branch in ("master", "main"):
        try:
            return _commit(repo, f"refs/heads/{branch}", doing=f"reading branch {branch}")
        except GitError:
            continue
    raise GitError(f"{repo}: no master or main branch")


def _commit(repo: Path, revision: str, *, doing: str) -> Commit:
    out = _git(repo, "show", "-s", "--format=%H %ct", f"{revision}^{{commit}}", doing=doing)
    sha, seconds = out.split()
    return Commit(sha, datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def origin_url(repo: Path) -> str | None:
    """remote.origin.url without any user or password in it, or None."""
    try:
        url = _git(
            repo, "config", "--get", "remote.origin.url", doing="reading remote.origin.url"
        ).strip()
    except GitError:
        return None
    return strip_credentials(url) if url else None


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _redact(text: str) -> str:
    return _USERINFO.sub("", text)


def strip_credentials(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def is_folder(repo: Path, commit: Commit, path: str) -> bool:
    """Whether `path` is a folder in `commit`."""
    try:
        kind = _git(repo, "cat-file", "-t", f"{commit.sha}:{path}", doing=f"looking for {path}")
    except GitError:
        return False
    return kind.strip() == "tree"


def export(repo: Path, commit: Commit, folder: str | None, destination: Path) -> Path:
    """Write `folder` (None: the whole tree) as committed in `commit` under `destination`;
    return where it landed. Taken from the commit, not the work tree, so the content
    always matches the sha."""
    paths = ["--", folder] if folder else []
    doing = f"reading {folder or 'the tree'} at {commit.sha7}"
    archive = _git_bytes(repo, "archive", "--format=tar", commit.sha, *paths, doing=doing)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        try:
            tar.extractall(destination, filter="data")
        except tarfile.FilterError as error:
            raise UnsafeContent(f"{repo}: {folder or 'tree'} at {commit.sha7}: {error}") from None
    return destination / folder if folder else destination


def fetch(url: str, sha7: str, repo: Path) -> Commit:
    """Bring the commit `sha7` of `url` into a new repo at `repo` as cheaply as the server allows.

    Always a partial clone (`--filter=blob:none`: commits and trees, no file contents), so
    `git archive` later fetches only the blobs of the one folder it exports; a branch or tag
    tip alone (`--depth 1`), any other commit with the history it needs to be found. A
    server that refuses filters gives a full clone, as cyber-dojo's script always took.
    """
    shown = strip_credentials(url)
    tips = _git(repo.parent, "ls-remote", "--", url, doing=f"listing {shown}", shown=shown)
    refs = [
        line.split()[1] for line in tips.splitlines() if line.startswith(sha7) and "\trefs/" in line
    ]
    shallow = (
        ["--depth", "1", "--branch", refs[0].split("/", 2)[2].removesuffix("^{}")] if refs else []
    )
    clone = ["clone", "-q", "--bare", "--filter=blob:none", *shallow, "--", url, str(repo)]
    _git(repo.parent, *clone, doing=f"cloning {shown}", shown=shown)
    try:
        return resolve(repo, sha7)
    except GitError as error:
        raise GitError(str(error), _checkout_said(repo, sha7), checkout=True) from None


def clone_said(url: str, name: str) -> str:
    """What cyber-dojo's create script shows of a clone that fails: git's own words for its
    last try, `git clone --single-branch --branch main URL NAME` (NAME its index folder), run
    in a scratch folder. Only for showing: the clone here has failed already."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=".startpoints-clone-") as scratch:
        clone = ["clone", "--single-branch", "--branch", "main", "--", url, name]
        try:
            _git(Path(scratch), *clone, doing="cloning", shown=strip_credentials(url))
        except GitError as error:
            return error.output or str(error)
    return f"{strip_credentials(url)}: cloned on a second try"


def _checkout_said(repo: Path, sha7: str) -> str:
    """What `git checkout SHA7` says of a commit the clone does not have (cyber-dojo's script
    checks out after cloning, and shows git's words): git's own, from a scratch work tree."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=".startpoints-checkout-", dir=repo.parent) as tree:
        try:
            _git(repo, "--work-tree", tree, "checkout", sha7, doing="checkout")  # sha7: hex
        except GitError as error:
            return error.output or str(error)
    return f"error: {sha7} is not a commit"


def fetch_default_branch(url: str, repo: Path) -> Commit:
    """The tip of `url`'s master branch, else its main branch, as cyber-dojo's create script
    picks it: a shallow partial clone into a new repo at `repo`."""
    _clone_default_branch(url, repo, "--filter=blob:none", "--depth", "1")
    return resolve(repo, "HEAD")


def default_branch_history(url: str, repo: Path) -> list[str]:
    """The commits of `url`'s master, else main, branch, newest first along its first
    parents: a treeless clone into a new repo at `repo`, so only commits travel."""
    _clone_default_branch(url, repo, "--filter=tree:0", "--single-branch")
    listed = _git(repo, "rev-list", "--first-parent", "HEAD", doing=f"listing {repo}")
    return listed.split()


def _clone_default_branch(url: str, repo: Path, *options: str) -> None:
    """A bare clone of `url`'s master branch, else its main branch, as cyber-dojo picks it."""
    shown = strip_credentials(url)
    said = None
    for branch in ("master", "main"):
        clone = ["clone", "-q", "--bare", *options, "--branch", branch]
        try:
            _git(repo.parent, *clone, "--", url, str(repo), doing=f"cloning {shown}", shown=shown)
        except GitError as error:
            said = error.output  # the last try's words (main's), as the create script shows
            continue
        return
    raise GitError(
        f"{shown}: cannot be cloned: not a git repository, or no master or main branch", said
    )


def is_dirty(repo: Path) -> bool:
    """Whether a work tree has changes git would commit (untracked files included)."""
    return bool(_git(repo, "status", "--porcelain", doing="reading the work tree status").strip())


def differs(repo: Path, sha: str, path: str) -> list[str]:
    """Files under `path` whose work-tree content is not what commit `sha` holds: changed,
    deleted or untracked (ignored files aside)."""
    changed = _git(repo, "diff", "--name-only", sha, "--", path, doing=f"comparing with {sha}")
    untracked = _git(
        repo, "ls-files", "--others", "--exclude-standard", "--", path, doing="listing files"
    )
    return sorted({*changed.splitlines(), *untracked.splitlines()} - {""})


def is_repo(path: Path) -> bool:
    try:
        return _git(path, "rev-parse", "--is-inside-work-tree", doing="probing").strip() == "true"
    except GitError:
        return False


def _git(repo: Path, *args: str, doing: str, shown: str | None = None) -> str:
    return _git_bytes(repo, *args, doing=doing, shown=shown).decode()


def _git_bytes(repo: Path, *args: str, doing: str, shown: str | None = None) -> bytes:
    if not repo.is_dir():
        raise GitError(f"{repo}: no such directory")
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if result.returncode != 0:
        said = result.stderr.decode(errors="replace").strip()
        if shown is not None:  # never echo a URL's user or password
            said = "\n".join(_redact(line) for line in said.splitlines())
        message = said.splitlines()
        detail = message[-1] if message else f"exit {result.returncode}"
        if "not a git repository" in detail:
            raise GitError(f"{repo}: not a git repository", said)
        raise GitError(f"{repo}: {doing}: {detail}", said)
    return result.stdout
