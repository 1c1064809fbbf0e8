"""Containment: the one check every unpack, copy, removal and served read goes through.

A path is inside a tree when its real path (every link resolved, as the kernel would) lies
under the tree's real path. Lexical checks (`normpath`) are not enough: `a/b/up -> ../..`
and `a/b/out -> up/../../etc` are each lexically inside, together they leave.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

NAME_MAX = 255  # bytes in one path component, as Linux allows
MAX_LINKS = 40  # links followed while resolving one path, as Linux allows


class Outside(ValueError):
    """A path resolves outside the tree it must stay in, or cannot be resolved at all."""


class Unresolvable(Outside):
    """A path cannot be resolved: a link loop, a name too long, a folder that cannot be read."""


def real(path: Path) -> Path:
    """`path` with every link resolved as the kernel would (at most MAX_LINKS of them); a
    missing tail is kept lexically. Written out, not `os.path.realpath`: that one, when not
    strict, treats a component it cannot stat (too long, say) as a plain name and carries on,
    which is how link chains escape extraction (CVE-2025-4517). Here any such error is Outside.
    """
    return Path(_resolve("/", _absolute(path).split("/")))


def _absolute(path: Path) -> str:
    """`path` made absolute without normalising it: `a/link/..` must go where the kernel
    goes (the link target's parent), not be folded away lexically as `abspath` would."""
    text = os.fspath(path)
    return text if text.startswith("/") else os.path.join(os.getcwd(), text)


def _resolve(resolved: str, parts: list[str]) -> str:
    """Resolve `parts` one by one from the real folder `resolved`, following links."""
    pending = list(reversed(parts))
    links = 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            resolved = os.path.dirname(resolved)
            continue
        candidate = os.path.join(resolved, name)
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            resolved = candidate  # nothing there, so no link: the rest is lexical
            continue
        except OSError as error:
            raise Unresolvable(f"cannot be resolved: {error.strerror}") from None
        if not stat.S_ISLNK(mode):
            resolved = candidate
            continue
        links += 1
        if links > MAX_LINKS:
            raise Unresolvable(f"cannot be resolved: more than {MAX_LINKS} links")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = "/"
        pending.extend(reversed(target.split("/")))
    return resolved


def inside(root: Path, path: Path, *, real_root: Path | None = None) -> Path:
    """The real path of `path`, raising Outside unless it is `root` or below it.
    `real_root`: `real(root)`, when the caller has it (an unpack resolves its root once).

    A path written below `root` is resolved from the real root onwards, not from `/`: the
    same answer (resolution goes component by component, and `root`'s components resolve to
    the real root), without stat-ing the root's own components once per file."""
    base = str(real_root or real(root))
    given, prefix = _absolute(path), os.path.abspath(root)
    if given.startswith(prefix + "/"):
        resolved = _resolve(base, given[len(prefix) + 1 :].split("/"))
    else:
        resolved = _resolve("/", given.split("/"))
    if resolved != base and not resolved.startswith(base.rstrip("/") + "/"):
        raise Outside("leads outside the tree")
    return Path(resolved)


def check_link(root: Path, link: Path) -> None:
    """Raise Outside unless the symlink `link` is relative and, followed for real through the
    tree as it is now (chains included), ends inside `root`."""
    if os.readlink(link).startswith("/"):
        raise Outside("is absolute")
    inside(root, link)


def escaping_links(root: Path) -> list[str]:
    """Every symlink under `root` (relative, sorted) whose final target is outside `root`,
    checked after the whole tree is laid out, so chains of links are followed for real."""
    found = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            try:
                check_link(root, path)
            except Outside:
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def component_problem(name: str) -> str | None:
    """Why `name` cannot be one real path component (a whiteout's target, a file name)."""
    if name in ("", ".", ".."):
        return f"{name!r} is not a file name"
    if "/" in name or "\0" in name:
        return f"{name!r} holds '/' or NUL"
    if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        return f"a name of more than {NAME_MAX} bytes"
    return None


def relative_problem(name: str, max_bytes: int) -> str | None:
    """Why `name` cannot be a relative path that stays inside, read lexically."""
    if len(name.encode("utf-8", "surrogateescape")) > max_bytes:
        return f"a path of more than {max_bytes} bytes"
    path = PurePosixPath(name)
    if path.is_absolute():
        return "an absolute path"
    if ".." in path.parts:
        return "climbs out with '..'"
    for part in path.parts:
        if problem := component_problem(part):
            return problem
    return None
