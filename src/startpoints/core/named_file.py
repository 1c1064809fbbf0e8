"""A file a manifest names (visible_filenames, rag_lambda): a portable, relative name that
stays inside the start point, links followed only within it, naming a regular file no larger
than it may be."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

from startpoints.core import paths

_PORTABLE = re.compile(r"[A-Za-z0-9/._-]")


def problem(name: Any, directory: Path, max_bytes: int | None) -> str | None:
    """What is wrong with `name` as a file a manifest names in `directory`, or None."""
    if not isinstance(name, str):
        return "must be a string"
    if name == "":
        return "cannot be empty"
    bad = sorted({c for c in name if not _PORTABLE.fullmatch(c)})
    if bad:
        return f"has non-portable characters {''.join(bad)!r} (allowed: A-Z a-z 0-9 / . _ -)"
    if name.startswith("-"):
        return "cannot start with '-'"
    if name.startswith("/") or ".." in name.split("/") or "" in name.split("/"):
        return (
            "must be a relative path inside the start point "
            "(no '/' at either end, no '..', no '//')"
        )
    if why := paths.relative_problem(name, 4096):
        return f"cannot be a file name: {why}"
    try:
        path = paths.inside(directory, directory / name, real_root=directory)  # real: check()
    except paths.Unresolvable as error:
        return str(error)
    except paths.Outside:
        return "is a link leaving the start point"
    try:
        info = path.stat()
    except OSError:
        return "does not exist"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if max_bytes is not None and info.st_size > max_bytes:
        return f"is too large ({info.st_size} bytes > {max_bytes})"
    return None
